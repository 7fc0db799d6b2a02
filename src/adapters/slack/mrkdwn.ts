/**
 * Slack's text conventions both ways. Slack escapes &, < and > as HTML entities in everything
 * it sends (message text, slash command text) and expects the same in mrkdwn we send, because
 * <...> is its markup for mentions and links.
 */

/** Text for a mrkdwn field: &, < and > escaped so Slack shows them instead of parsing markup. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The reverse, for text Slack sent us. `&amp;` last, so `&amp;lt;` stays the literal `&lt;`. */
export function unescapeSlack(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * A message as the person typed it: Slack's markup (<@U123>, <#C1|desk>, <https://x|label>)
 * reduced to plain words, entities decoded. Mentions keep the raw id (a command argument may
 * name a person); links become their label, or the URL when there is none.
 */
export function plainFromSlack(text: string): string {
  const unwrapped = text.replace(/<([^<>]*)>/g, (_m, inner: string) => {
    const [target = '', label] = inner.split('|', 2);
    if (target.startsWith('@') || target.startsWith('#')) return label !== undefined && target.startsWith('#') ? `#${label}` : target;
    if (target.startsWith('!')) return label ?? target.slice(1);
    return label ?? target;
  });
  return unescapeSlack(unwrapped);
}

/**
 * An app mention's command: the leading mention(s) of the bot dropped ("<@U0BOT> /price btc"
 * → "/price btc"). A mention of someone else at the start is kept; it is part of what they said.
 */
export function mentionCommand(text: string, botUserId: string | undefined): string {
  let t = text.trim();
  for (;;) {
    const m = /^<@([A-Z0-9]+)(?:\|[^>]*)?>[\s,:]*/.exec(t);
    if (!m || (botUserId !== undefined && m[1] !== botUserId)) break;
    t = t.slice(m[0].length);
  }
  return plainFromSlack(t).trim();
}
