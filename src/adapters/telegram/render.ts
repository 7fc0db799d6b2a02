import type { Block, Reply, Tone } from '../../kernel/index.js';
import { splitMessages, type Unit } from '../common/split.js';
import { tableLines } from '../common/text-table.js';
import { escapeAttr, escapeHtml } from './html.js';

/** Telegram's limits (UTF-16 code units); measured on the HTML, which is never shorter than what Telegram counts */
export const MESSAGE_LIMIT = 4096;
export const CAPTION_LIMIT = 1024;

export interface InlineButton {
  text: string;
  callback_data: string;
}
export type Keyboard = InlineButton[][];

/** One Bot API call a reply turns into, in order. */
export type Outgoing =
  | { kind: 'text'; html: string; keyboard?: Keyboard }
  | { kind: 'photo'; png: Uint8Array; filename: string; captionHtml?: string; keyboard?: Keyboard };

export interface RenderOptions {
  /** callback_data for a button's command (see ButtonCommands) */
  buttonData: (command: string) => string;
  limit?: number;
}

const TONE_MARK: Record<Tone, string> = { info: '', ok: '✅ ', warn: '⚠️ ', error: '⛔ ' };
/** Telegram allows up to 8 buttons in a row; more than a few get too narrow to read on a phone */
const BUTTONS_PER_ROW = 3;

/**
 * A Reply as Telegram messages in HTML parse mode: text escaped, tables and code as <pre>
 * (split between rows, each part repeating the header), images as photos (a text block right
 * after an image becomes its caption when it fits), buttons as an inline keyboard on the message
 * before them.
 */
export function renderReply(reply: Reply, opts: RenderOptions): Outgoing[] {
  const limit = opts.limit ?? MESSAGE_LIMIT;
  const out: Outgoing[] = [];
  let units: Unit[] = [];
  const flush = (): void => {
    if (units.length === 0) return;
    for (const html of splitMessages(units, { limit, separator: '\n' })) out.push({ kind: 'text', html });
    units = [];
  };
  const blocks = reply.blocks;
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i] as Block;
    switch (b.type) {
      case 'text':
        units.push({ kind: 'text', text: textHtml(b) });
        break;
      case 'table':
        units.push(tableUnit(b));
        break;
      case 'code':
        units.push(codeUnit(b));
        break;
      case 'image': {
        flush();
        const next = blocks[i + 1];
        const caption = next?.type === 'text' ? textHtml(next) : undefined;
        const photo: Outgoing = { kind: 'photo', png: b.png, filename: pngName(b.filename ?? b.alt) };
        if (caption !== undefined && caption.length <= CAPTION_LIMIT) {
          photo.captionHtml = caption;
          i++; // the caption was that text block
        }
        out.push(photo);
        break;
      }
      case 'buttons': {
        flush();
        const keyboard = keyboardOf(b, opts.buttonData);
        const last = out[out.length - 1];
        if (last !== undefined && last.keyboard === undefined) last.keyboard = keyboard;
        else out.push({ kind: 'text', html: 'Choose:', keyboard });
        break;
      }
    }
  }
  flush();
  return out;
}

function textHtml(b: Extract<Block, { type: 'text' }>): string {
  return `${TONE_MARK[b.tone ?? 'info']}${escapeHtml(b.text)}`;
}

function tableUnit(b: Extract<Block, { type: 'table' }>): Unit {
  const t = tableLines(b);
  // the title rides with every part so a split table still says what it is
  const title = b.title ? `<b>${escapeHtml(b.title)}</b>\n` : '';
  return {
    kind: 'pre',
    header: t.lines.slice(0, t.headerLines),
    lines: t.lines.slice(t.headerLines),
    wrap: (lines) => `${title}<pre>${escapeHtml(lines.join('\n'))}</pre>`,
  };
}

function codeUnit(b: Extract<Block, { type: 'code' }>): Unit {
  const lang = b.language !== undefined && /^[\w+#-]{1,32}$/.test(b.language) ? b.language : undefined;
  const open = lang ? `<pre><code class="language-${escapeAttr(lang)}">` : '<pre>';
  const close = lang ? '</code></pre>' : '</pre>';
  return { kind: 'pre', header: [], lines: b.text.split('\n'), wrap: (lines) => `${open}${escapeHtml(lines.join('\n'))}${close}` };
}

function keyboardOf(b: Extract<Block, { type: 'buttons' }>, data: (command: string) => string): Keyboard {
  const buttons = b.buttons.map((x) => ({ text: x.label, callback_data: data(x.command) }));
  const rows: Keyboard = [];
  for (let i = 0; i < buttons.length; i += BUTTONS_PER_ROW) rows.push(buttons.slice(i, i + BUTTONS_PER_ROW));
  return rows;
}

function pngName(name: string): string {
  const base = name.replace(/\.png$/i, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60) || 'image';
  return `${base}.png`;
}
