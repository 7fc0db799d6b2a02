/**
 * Splitting a reply into messages that fit a platform's limit (Telegram 4,096 characters,
 * Discord 2,000, a Slack section 3,000) without breaking a table: each adapter formats its
 * blocks into units, and this packs them into as few messages as fit.
 *
 * - a `text` unit that is too long is cut at a paragraph, else a line, else a word boundary
 *   (a single word longer than the limit is cut hard — it cannot be helped);
 * - a `pre` unit (a table or code block) is cut between lines only, and every part repeats the
 *   table's header lines and is wrapped again (e.g. in ``` or <pre>), so each part is a whole
 *   table a reader can read on its own;
 * - units (and the parts of split units) are packed in order, as many per message as fit.
 *
 * `measure` is the platform's length (UTF-16 code units for Telegram/Discord/Slack).
 */

export type Unit =
  | { kind: 'text'; text: string }
  | {
      kind: 'pre';
      /** repeated at the top of every part (a table's header and rule) */
      header: string[];
      lines: string[];
      /** the platform's wrapping of a part, e.g. (l) => '```\n' + l.join('\n') + '\n```' */
      wrap: (lines: string[]) => string;
    };

export interface SplitOptions {
  limit: number;
  /** between units in one message */
  separator?: string;
  measure?: (s: string) => number;
}

export function splitMessages(units: readonly Unit[], opts: SplitOptions): string[] {
  const { limit } = opts;
  const sep = opts.separator ?? '\n';
  const measure = opts.measure ?? ((s: string) => s.length);
  if (limit < 16) throw new Error(`split limit ${limit} is too small`);
  const pieces: string[] = [];
  for (const u of units) pieces.push(...(u.kind === 'text' ? splitText(u.text, limit, measure) : splitPre(u, limit, measure)));
  const out: string[] = [];
  let current = '';
  for (const p of pieces) {
    if (current === '') current = p;
    else if (measure(current) + measure(sep) + measure(p) <= limit) current = `${current}${sep}${p}`;
    else {
      out.push(current);
      current = p;
    }
  }
  if (current !== '') out.push(current);
  return out;
}

function splitText(text: string, limit: number, measure: (s: string) => number): string[] {
  if (measure(text) <= limit) return text === '' ? [] : [text];
  for (const boundary of ['\n\n', '\n', ' ']) {
    const parts = text.split(boundary);
    if (parts.length < 2) continue;
    const out: string[] = [];
    let cur = '';
    for (const part of parts) {
      const next = cur === '' ? part : `${cur}${boundary}${part}`;
      if (measure(next) <= limit) cur = next;
      else {
        if (cur !== '') out.push(cur);
        cur = part;
      }
    }
    if (cur !== '') out.push(cur);
    // a part still too long is split at the next finer boundary
    return out.flatMap((p) => (measure(p) <= limit ? [p] : splitText(p, limit, measure)));
  }
  const out: string[] = [];
  const chars = [...text];
  let cur = '';
  for (const ch of chars) {
    if (measure(cur + ch) > limit) {
      out.push(cur);
      cur = '';
    }
    cur += ch;
  }
  if (cur !== '') out.push(cur);
  return out;
}

function splitPre(u: Extract<Unit, { kind: 'pre' }>, limit: number, measure: (s: string) => number): string[] {
  const whole = u.wrap([...u.header, ...u.lines]);
  if (measure(whole) <= limit) return [whole];
  const out: string[] = [];
  let cur: string[] = [];
  for (const line of u.lines) {
    const fits = (ls: string[]): boolean => measure(u.wrap([...u.header, ...ls])) <= limit;
    if (fits([...cur, line])) {
      cur.push(line);
      continue;
    }
    if (cur.length > 0) out.push(u.wrap([...u.header, ...cur]));
    if (fits([line])) cur = [line];
    else {
      // one line wider than a whole message: cut it, keeping the header on each part
      const room = Math.max(8, limit - measure(u.wrap(u.header)) - 1);
      const bits = splitText(line, room, measure);
      for (const b of bits.slice(0, -1)) out.push(u.wrap([...u.header, b]));
      cur = bits.slice(-1);
    }
  }
  if (cur.length > 0) out.push(u.wrap([...u.header, ...cur]));
  return out;
}
