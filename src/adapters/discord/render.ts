import {
  ButtonStyle,
  ComponentType,
  escapeMarkdown,
  type APIActionRowComponent,
  type APIButtonComponentWithCustomId,
  type APIEmbed,
  type APIEmbedField,
} from 'discord.js';
import type { Block, Reply, Tone } from '../../kernel/index.js';
import { splitMessages, type Unit } from '../common/split.js';
import { tableLines } from '../common/text-table.js';

/**
 * A Reply as Discord messages: text, grids and code go into embed descriptions (grids and code
 * as ``` code blocks), key/value tables become embed fields, images become uploaded PNG
 * attachments shown in their own embed, buttons become a row of native buttons on the last
 * message. Everything is kept under Discord's limits: a description over 4,096 characters is
 * split (a table only between rows, its header repeated on every part), and embeds are packed
 * into as few messages as the 10-embed / 6,000-character per-message limits allow.
 */

/** the characters escapeMarkdown's default rules act on (escape, code, bold/italic, underline, strikethrough, spoiler) */
const MARKDOWN = /[\\`*_~|]/;

/**
 * escapeMarkdown, skipped for text it would leave as is: most of a reply (names, numbers,
 * symbols) has none of those characters, and its look-behind rules cost more than the rest of
 * rendering a short reply.
 */
export function escapeText(text: string): string {
  return MARKDOWN.test(text) ? escapeMarkdown(text) : text;
}

export const DISCORD_LIMITS = {
  content: 2000,
  description: 4096,
  /** all embeds of one message together */
  embedTotal: 6000,
  embedsPerMessage: 10,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  title: 256,
  rows: 5,
  buttonsPerRow: 5,
  buttonLabel: 80,
  filesPerMessage: 10,
} as const;

export interface OutFile {
  name: string;
  data: Buffer;
  /** alt text (Discord's attachment description) */
  description: string;
}

export type ButtonRow = APIActionRowComponent<APIButtonComponentWithCustomId>;

export interface OutMessage {
  embeds: APIEmbed[];
  components: ButtonRow[];
  files: OutFile[];
}

export interface RenderOptions {
  /** the custom_id for a button that runs `command` (the adapter maps it back on a press) */
  buttonId(command: string): string;
}

const COLOR: Record<Tone, number> = { info: 0x5865f2, ok: 0x57f287, warn: 0xfee75c, error: 0xed4245 };
const SEVERITY: Record<Tone, number> = { info: 0, ok: 1, warn: 2, error: 3 };
const MARK: Record<Tone, string> = { info: '', ok: '✅ ', warn: '⚠️ ', error: '⛔ ' };
/** values this short sit side by side (inline fields); longer ones get a line each */
const INLINE_MAX = 24;

interface Piece {
  embed: APIEmbed;
  file?: OutFile;
}

export function renderReply(reply: Reply, opts: RenderOptions): OutMessage[] {
  const color = COLOR[worstTone(reply.blocks)];
  const pieces: Piece[] = [];
  const buttons: Array<Extract<Block, { type: 'buttons' }>['buttons'][number]> = [];
  let units: Unit[] = [];
  const usedNames = new Set<string>();
  const flush = (): void => {
    if (units.length === 0) return;
    for (const d of splitMessages(units, { limit: DISCORD_LIMITS.description, separator: '\n' })) pieces.push({ embed: { description: d } });
    units = [];
  };

  for (const b of reply.blocks) {
    switch (b.type) {
      case 'text':
        units.push({ kind: 'text', text: `${MARK[b.tone ?? 'info']}${escapeText(b.text)}` });
        break;
      case 'code':
        units.push(codeUnit([], b.text.split('\n'), b.language));
        break;
      case 'table': {
        const fields = kvFields(b);
        if (fields !== null) {
          flush();
          pieces.push({ embed: b.title ? { title: b.title.slice(0, DISCORD_LIMITS.title), fields } : { fields } });
          break;
        }
        if (b.title) units.push({ kind: 'text', text: `**${escapeText(b.title)}**` });
        const t = tableLines(b);
        units.push(codeUnit(t.lines.slice(0, t.headerLines), t.lines.slice(t.headerLines)));
        break;
      }
      case 'image': {
        flush();
        const name = fileName(b.filename ?? b.alt, usedNames);
        const alt = b.alt.slice(0, 1024);
        pieces.push({ embed: { image: { url: `attachment://${name}` } }, file: { name, data: Buffer.from(b.png), description: alt } });
        break;
      }
      case 'buttons':
        buttons.push(...b.buttons);
        break;
    }
  }
  flush();

  const messages = pack(pieces.map((p) => ({ ...p, embed: { ...p.embed, color } })));
  const rows = buttonRows(buttons, opts);
  if (rows.length > 0) {
    const last = messages[messages.length - 1];
    if (last) last.components = rows;
    else messages.push({ embeds: [], components: rows, files: [] });
  }
  return messages;
}

/** the embed's characters as Discord counts them towards the 6,000 per message */
export function embedLength(e: APIEmbed): number {
  return (
    (e.title?.length ?? 0) +
    (e.description?.length ?? 0) +
    (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0) +
    (e.footer?.text.length ?? 0) +
    (e.author?.name.length ?? 0)
  );
}

function pack(pieces: Piece[]): OutMessage[] {
  const out: OutMessage[] = [];
  let cur: OutMessage = { embeds: [], components: [], files: [] };
  let size = 0;
  for (const p of pieces) {
    const len = embedLength(p.embed);
    const full =
      cur.embeds.length >= DISCORD_LIMITS.embedsPerMessage ||
      size + len > DISCORD_LIMITS.embedTotal ||
      (p.file !== undefined && cur.files.length >= DISCORD_LIMITS.filesPerMessage);
    if (full && cur.embeds.length > 0) {
      out.push(cur);
      cur = { embeds: [], components: [], files: [] };
      size = 0;
    }
    cur.embeds.push(p.embed);
    if (p.file) cur.files.push(p.file);
    size += len;
  }
  if (cur.embeds.length > 0) out.push(cur);
  return out;
}

/** a key/value table as embed fields, or null when it does not fit them (then it is a code block) */
function kvFields(b: Extract<Block, { type: 'table' }>): APIEmbedField[] | null {
  if (b.header !== undefined || b.rows.length === 0 || b.rows.length > DISCORD_LIMITS.fields) return null;
  if (b.rows.some((r) => r.length !== 2 || (r[0] ?? '').trim() === '')) return null;
  const fields = b.rows.map(([k = '', v = '']) => ({ name: escapeText(k), value: v.trim() === '' ? '—' : escapeText(v) }));
  if (fields.some((f) => f.name.length > DISCORD_LIMITS.fieldName || f.value.length > DISCORD_LIMITS.fieldValue)) return null;
  const inline = fields.every((f) => f.value.length <= INLINE_MAX);
  return fields.map((f) => ({ ...f, inline }));
}

function codeUnit(header: string[], lines: string[], language?: string): Unit {
  const lang = language !== undefined && /^[a-z0-9+#-]{1,20}$/i.test(language) ? language : '';
  // a ``` inside the text would end the block early
  const safe = (l: string): string => l.replace(/```/g, '`\u200b``');
  return { kind: 'pre', header: header.map(safe), lines: lines.map(safe), wrap: (ls) => `\`\`\`${lang}\n${ls.join('\n')}\n\`\`\`` };
}

function buttonRows(buttons: Array<{ label: string; command: string; style?: 'primary' | 'danger' }>, opts: RenderOptions): ButtonRow[] {
  const max = DISCORD_LIMITS.rows * DISCORD_LIMITS.buttonsPerRow;
  const rows: ButtonRow[] = [];
  buttons.slice(0, max).forEach((b, i) => {
    if (i % DISCORD_LIMITS.buttonsPerRow === 0) rows.push({ type: ComponentType.ActionRow, components: [] });
    const style = b.style === 'primary' ? ButtonStyle.Primary : b.style === 'danger' ? ButtonStyle.Danger : ButtonStyle.Secondary;
    rows[rows.length - 1]?.components.push({
      type: ComponentType.Button,
      style,
      label: b.label.slice(0, DISCORD_LIMITS.buttonLabel),
      custom_id: opts.buttonId(b.command),
    });
  });
  return rows;
}

function worstTone(blocks: readonly Block[]): Tone {
  let worst: Tone = 'info';
  for (const b of blocks) if (b.type === 'text' && b.tone !== undefined && SEVERITY[b.tone] > SEVERITY[worst]) worst = b.tone;
  return worst;
}

/** a safe, unique attachment name ending in .png (embeds refer to it as attachment://name) */
function fileName(wanted: string, used: Set<string>): string {
  const stem = wanted.replace(/\.png$/i, '').toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'image';
  let name = `${stem}.png`;
  for (let n = 2; used.has(name); n++) name = `${stem}-${n}.png`;
  used.add(name);
  return name;
}
