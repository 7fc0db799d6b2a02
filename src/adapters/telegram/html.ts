/**
 * Telegram's HTML parse mode: `<`, `>` and `&` in text must be entities, or Telegram rejects the
 * message ("can't parse entities") or, worse, reads user text as markup.
 */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** inside an attribute value (class="language-…") quotes matter too */
export function escapeAttr(s: string): string {
  return escapeHtml(s).replace(/"/g, '&quot;');
}
