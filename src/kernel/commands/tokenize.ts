/**
 * Splits a chat command line into tokens: whitespace-separated words, "double" or 'single'
 * quoted strings (and the curly quotes phone keyboards produce), backslash escapes inside
 * quotes, and key=value options (the key must be unquoted; the value may be quoted).
 * Never throws: a malformed line is a value with a message for the sender.
 */

export interface Token {
  /** the option name for key=value tokens (lower-cased, '-' → '_') */
  key?: string;
  value: string;
  /** true when any part of the value was quoted: a quoted token is never read as key=value */
  quoted: boolean;
}

export type TokenizeResult = { ok: true; tokens: Token[] } | { ok: false; error: string };

const OPEN_TO_CLOSE: Record<string, string> = { '"': '"', "'": "'", '“': '”', '‘': '’', '”': '”' };
const KEY = /^([a-zA-Z][a-zA-Z0-9_-]*)=/;

export function tokenize(input: string): TokenizeResult {
  const tokens: Token[] = [];
  let i = 0;
  const n = input.length;
  while (i < n) {
    while (i < n && isSpace(input.charCodeAt(i))) i++;
    if (i >= n) break;
    let value = '';
    let quoted = false;
    let key: string | undefined;
    // key=value: only when the key is bare
    const rest = input.slice(i, i + 64);
    const km = KEY.exec(rest);
    if (km && km[1] !== undefined) {
      key = km[1].toLowerCase().replace(/-/g, '_');
      i += km[0].length;
    }
    while (i < n && !isSpace(input.charCodeAt(i))) {
      const ch = input[i] as string;
      const close = OPEN_TO_CLOSE[ch];
      if (close !== undefined) {
        quoted = true;
        const start = i;
        i++;
        let closed = false;
        while (i < n) {
          const c = input[i] as string;
          if (c === '\\' && close === '"' && i + 1 < n) {
            value += input[i + 1];
            i += 2;
            continue;
          }
          if (c === close || (close === '”' && c === '"')) {
            closed = true;
            i++;
            break;
          }
          value += c;
          i++;
        }
        if (!closed) {
          return { ok: false, error: `unclosed quote ${ch} starting at character ${start + 1}` };
        }
      } else {
        value += ch;
        i++;
      }
    }
    tokens.push(key === undefined ? { value, quoted } : { key, value, quoted });
  }
  return { ok: true, tokens };
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 0xa0;
}
