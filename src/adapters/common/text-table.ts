import type { Block } from '../../kernel/index.js';

/**
 * A table block as monospace lines, shared by every adapter that shows tables as preformatted
 * text (terminal, Telegram <pre>, Slack and Discord code blocks): columns padded, numbers
 * right-aligned. `headerLines` lines at the top (header + rule) are repeated when a long table
 * is split over several messages.
 */
export function tableLines(b: Extract<Block, { type: 'table' }>): { lines: string[]; headerLines: number } {
  const rows = b.rows.map((r) => r.map(clean));
  if (!b.header) {
    // key/value: keys padded, values as they are (may be long)
    const keyWidth = Math.max(0, ...rows.map((r) => width(r[0] ?? '')));
    return { lines: rows.map((r) => `  ${pad(r[0] ?? '', keyWidth, 'left')}  ${r.slice(1).join('  ')}`), headerLines: 0 };
  }
  const header = b.header.map(clean);
  const cols = Math.max(header.length, ...rows.map((r) => r.length));
  const widths: number[] = [];
  const align: Array<'left' | 'right'> = [];
  for (let c = 0; c < cols; c++) {
    const cells = rows.map((r) => r[c] ?? '');
    widths.push(Math.max(width(header[c] ?? ''), ...cells.map(width)));
    align.push(b.align?.[c] ?? (cells.length > 0 && cells.every((x) => x === '' || NUMERIC.test(x)) ? 'right' : 'left'));
  }
  const line = (cells: string[]): string =>
    `  ${cells
      .map((x, c) => pad(x, widths[c] ?? 0, align[c] ?? 'left'))
      .join('  ')
      .trimEnd()}`;
  const lines = [line(header), `  ${widths.map((w) => '─'.repeat(w)).join('  ')}`];
  for (const r of rows) lines.push(line(Array.from({ length: cols }, (_, c) => r[c] ?? '')));
  if (rows.length === 0) lines.push('  (none)');
  return { lines, headerLines: 2 };
}

const NUMERIC = /^[+-]?[\d,_]*\.?\d+(?:e[+-]?\d+)?\s*(?:%|[a-zA-Z]{0,6})?$/;

/** one line per cell: a newline inside a cell would break the columns */
function clean(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}

function width(s: string): number {
  return [...s].length;
}

function pad(s: string, w: number, side: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, w - width(s)));
  return side === 'left' ? s + fill : fill + s;
}
