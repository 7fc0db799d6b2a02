import type { Block, Reply, Tone } from '../../kernel/index.js';

export interface RenderOptions {
  /** ANSI colours (a TTY) or plain text (pipes, logs, tests) */
  color: boolean;
  /** where an image block went (the console saves PNGs to a file), shown instead of the bytes */
  imagePath?: (png: Uint8Array, alt: string, filename?: string) => string;
}

const ANSI = { red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' };
const TONE_MARK: Record<Tone, string> = { info: '', ok: '✓ ', warn: '! ', error: '✗ ' };
const TONE_COLOR: Record<Tone, string> = { info: '', ok: ANSI.green, warn: ANSI.yellow, error: ANSI.red };

/** A Reply as terminal text: tables aligned in columns, numbers right-aligned. */
export function renderText(r: Reply, opts: RenderOptions = { color: false }): string {
  return r.blocks.map((b) => renderBlock(b, opts)).join('\n');
}

function renderBlock(b: Block, opts: RenderOptions): string {
  const paint = (code: string, s: string): string => (opts.color && code !== '' ? `${code}${s}${ANSI.reset}` : s);
  switch (b.type) {
    case 'text': {
      const tone = b.tone ?? 'info';
      return paint(TONE_COLOR[tone], `${TONE_MARK[tone]}${b.text}`);
    }
    case 'table':
      return renderTable(b, paint);
    case 'code':
      return b.text
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n');
    case 'image':
      return `[image: ${b.alt}${opts.imagePath ? ` → ${opts.imagePath(b.png, b.alt, b.filename)}` : ''}]`;
    case 'buttons':
      return paint(ANSI.dim, b.buttons.map((x) => `[${x.label}: ${x.command}]`).join('  '));
  }
}

const NUMERIC = /^[+-]?[\d,_]*\.?\d+(?:e[+-]?\d+)?\s*(?:%|[a-zA-Z]{0,6})?$/;

function renderTable(b: Extract<Block, { type: 'table' }>, paint: (c: string, s: string) => string): string {
  const lines: string[] = [];
  if (b.title) lines.push(paint(ANSI.bold, b.title));
  const rows = b.rows.map((r) => r.map(clean));
  if (!b.header) {
    // key/value: keys padded, values as they are (may be long)
    const keyWidth = Math.max(0, ...rows.map((r) => width(r[0] ?? '')));
    for (const r of rows) lines.push(`  ${pad(r[0] ?? '', keyWidth, 'left')}  ${r.slice(1).join('  ')}`);
    return lines.join('\n');
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
  lines.push(paint(ANSI.bold, line(header)));
  lines.push(`  ${widths.map((w) => '─'.repeat(w)).join('  ')}`);
  for (const r of rows) lines.push(line(Array.from({ length: cols }, (_, c) => r[c] ?? '')));
  if (rows.length === 0) lines.push('  (none)');
  return lines.join('\n');
}

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
