/**
 * Telegram's HTML parse mode as the Bot API reads it: the supported tags become entities, the
 * four named entities and numeric ones are decoded, and anything else that looks like a tag is
 * refused ("can't parse entities"), so a reply that forgot to escape user text fails here as it
 * would on Telegram. Offsets and lengths are in UTF-16 code units, as in the real API.
 */

export interface Entity {
  type: string;
  offset: number;
  length: number;
  language?: string;
  url?: string;
}

export type Parsed = { ok: true; text: string; entities: Entity[] } | { ok: false; error: string };

const TAG_ENTITY: Record<string, string> = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
  a: 'text_link',
  code: 'code',
  pre: 'pre',
  blockquote: 'blockquote',
  'tg-emoji': 'custom_emoji',
};

const TAG = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*>/;
const ENTITY = /^&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});/;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

interface Open {
  tag: string;
  offset: number;
  attrs: Record<string, string>;
  /** a <code class="language-x"> inside <pre>: it names the pre's language instead of being an entity */
  inPre: boolean;
}

export function parseTelegramHtml(html: string): Parsed {
  let text = '';
  const stack: Open[] = [];
  const entities: Entity[] = [];
  const fail = (what: string, at: number): Parsed => ({
    ok: false,
    error: `Bad Request: can't parse entities: ${what} at byte offset ${Buffer.byteLength(html.slice(0, at), 'utf8')}`,
  });
  let i = 0;
  while (i < html.length) {
    const c = html[i] as string;
    if (c === '<') {
      const m = TAG.exec(html.slice(i));
      if (!m) {
        const name = /^<\/?([^\s>]*)/.exec(html.slice(i))?.[1] ?? '';
        return fail(name === '' ? "Can't find end of the tag" : `Unsupported start tag "${name}"`, i);
      }
      const closing = m[1] === '/';
      const tag = (m[2] as string).toLowerCase();
      if (!(tag in TAG_ENTITY)) return fail(`Unsupported start tag "${tag}"`, i);
      if (closing) {
        const top = stack.pop();
        if (top === undefined || top.tag !== tag) {
          return fail(top === undefined ? `Unexpected end tag "${tag}"` : `Unmatched end tag "${tag}", expected "</${top.tag}>"`, i);
        }
        close(top, text.length, stack, entities);
      } else {
        const attrs = readAttrs(m[3] ?? '');
        stack.push({ tag, offset: text.length, attrs, inPre: tag === 'code' && stack.some((o) => o.tag === 'pre') });
      }
      i += m[0].length;
      continue;
    }
    if (c === '&') {
      const m = ENTITY.exec(html.slice(i, i + 12));
      if (m) {
        const name = m[1] as string;
        text += NAMED[name] ?? String.fromCodePoint(name.startsWith('#x') ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10));
        i += m[0].length;
        continue;
      }
    }
    text += c;
    i++;
  }
  const open = stack.pop();
  if (open !== undefined) return fail(`Can't find end tag corresponding to start tag "${open.tag}"`, html.length);
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { ok: true, text, entities };
}

function close(o: Open, end: number, stack: Open[], entities: Entity[]): void {
  const length = end - o.offset;
  if (o.inPre) {
    const lang = /^language-(.+)$/.exec(o.attrs.class ?? '')?.[1];
    const pre = [...stack].reverse().find((s) => s.tag === 'pre');
    if (lang !== undefined && pre !== undefined) pre.attrs['data-language'] = lang;
    return;
  }
  if (length === 0) return;
  const e: Entity = { type: TAG_ENTITY[o.tag] as string, offset: o.offset, length };
  if (o.tag === 'pre' && o.attrs['data-language'] !== undefined) e.language = o.attrs['data-language'];
  if (o.tag === 'a' && o.attrs.href !== undefined) e.url = o.attrs.href;
  entities.push(e);
}

function readAttrs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    out[(m[1] as string).toLowerCase()] = m[2] ?? m[3] ?? m[4] ?? '';
  }
  return out;
}
