import type { Block, Reply, Tone } from '../../kernel/index.js';
import { tableLines } from '../common/text-table.js';

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
    case 'table': {
      const t = tableLines(b);
      const out = t.lines.map((l, i) => (i < t.headerLines - 1 && b.header ? paint(ANSI.bold, l) : l));
      return [...(b.title ? [paint(ANSI.bold, b.title)] : []), ...out].join('\n');
    }
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
