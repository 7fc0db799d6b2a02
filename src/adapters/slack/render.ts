import type { types } from '@slack/bolt';
import type { Block, Reply, Tone } from '../../kernel/index.js';
import { splitMessages, type Unit } from '../common/split.js';
import { tableLines } from '../common/text-table.js';
import { escapeMrkdwn } from './mrkdwn.js';

/**
 * A Reply as Block Kit. Slack's limits shape everything here: a section's text is at most
 * 3,000 characters, a message at most 50 blocks, a section at most 10 fields of 2,000, a
 * button label 75 and its value 2,000. Long text and tables become several sections (each
 * table part repeats the header, via splitMessages), long replies several messages; an image
 * cannot be a block without a public URL, so it is its own part, uploaded as a file.
 */

export const SECTION_LIMIT = 3000;
export const BLOCKS_PER_MESSAGE = 50;
const FIELDS_PER_SECTION = 10;
const FIELD_LIMIT = 2000;
const BUTTON_LABEL_LIMIT = 75;
const BUTTON_VALUE_LIMIT = 2000;
/** the message's plain `text`: what notifications and screen readers show */
const FALLBACK_LIMIT = 300;
/** action_id prefix of every button the desk renders; the adapter listens for it */
export const BUTTON_ACTION_PREFIX = 'deskbot:run:';

export type SlackMessagePart = { kind: 'message'; text: string; blocks: types.KnownBlock[] };
export type SlackImagePart = { kind: 'image'; png: Uint8Array; alt: string; filename: string };
export type SlackPart = SlackMessagePart | SlackImagePart;

const TONE_EMOJI: Record<Tone, string> = { info: '', ok: ':white_check_mark: ', warn: ':warning: ', error: ':x: ' };

/** Messages and image uploads, in the reply's order. */
export function renderReply(reply: Reply): SlackPart[] {
  const parts: SlackPart[] = [];
  // groups: the Block Kit blocks of one reply block, kept in one message when they fit
  let groups: types.KnownBlock[][] = [];
  const flush = (): void => {
    for (const blocks of packGroups(groups)) parts.push({ kind: 'message', text: fallbackText(blocks), blocks });
    groups = [];
  };
  for (const b of reply.blocks) {
    if (b.type === 'image') {
      flush();
      parts.push({ kind: 'image', png: b.png, alt: b.alt, filename: pngName(b.filename ?? b.alt) });
    } else {
      const g = renderBlock(b);
      if (g.length > 0) groups.push(g);
    }
  }
  flush();
  return parts;
}

function renderBlock(b: Exclude<Block, { type: 'image' }>): types.KnownBlock[] {
  switch (b.type) {
    case 'text': {
      const pieces = splitMessages([{ kind: 'text', text: escapeMrkdwn(b.text) }], { limit: SECTION_LIMIT - 24 });
      // the tone mark leads the first piece only; the limit above leaves room for it
      return pieces.map((p, i) => section(i === 0 ? `${TONE_EMOJI[b.tone ?? 'info']}${p}` : p));
    }
    case 'table': {
      const title = b.title ? [section(`*${escapeMrkdwn(b.title)}*`)] : [];
      const kv = keyValueFields(b);
      if (kv !== null) return [...title, ...kv];
      const t = tableLines(b);
      return [...title, ...preSections(t.lines.slice(0, t.headerLines), t.lines.slice(t.headerLines))];
    }
    case 'code':
      return preSections([], b.text.replace(/\n+$/, '').split('\n'));
    case 'buttons': {
      if (b.buttons.length === 0) return [];
      const elements: types.Button[] = b.buttons.slice(0, 25).map((x, i) => ({
        type: 'button',
        text: { type: 'plain_text', text: clip(x.label, BUTTON_LABEL_LIMIT), emoji: true },
        action_id: `${BUTTON_ACTION_PREFIX}${i}`,
        value: x.command.slice(0, BUTTON_VALUE_LIMIT),
        ...(x.style ? { style: x.style } : {}),
      }));
      // small print: the typed equivalent, for clients that cannot press buttons (and for the record)
      const typed = b.buttons.map((x) => `\`${escapeMrkdwn(x.command)}\``).join(' · ');
      return [
        { type: 'actions', elements },
        { type: 'context', elements: [{ type: 'mrkdwn', text: clip(`or type ${typed}`, SECTION_LIMIT) }] },
      ];
    }
  }
}

/** A key/value table (no header, two cells a row) as section fields, 10 to a section; null when it does not fit fields. */
function keyValueFields(b: Extract<Block, { type: 'table' }>): types.SectionBlock[] | null {
  if (b.header || b.rows.length === 0 || b.rows.some((r) => r.length !== 2)) return null;
  const fields = b.rows.map(([k = '', v = '']) => `*${escapeMrkdwn(k)}*\n${escapeMrkdwn(v === '' ? ' ' : v)}`);
  // a value too long for a field keeps the whole table monospace instead of cutting it
  if (fields.some((f) => f.length > FIELD_LIMIT)) return null;
  const out: types.SectionBlock[] = [];
  for (let i = 0; i < fields.length; i += FIELDS_PER_SECTION) {
    out.push({ type: 'section', fields: fields.slice(i, i + FIELDS_PER_SECTION).map((text) => ({ type: 'mrkdwn', text })) });
  }
  return out;
}

/** Monospace lines as ``` sections under the section limit, each part with the header lines again. */
function preSections(header: string[], lines: string[]): types.SectionBlock[] {
  const unit: Unit = { kind: 'pre', header, lines, wrap: (ls) => `\`\`\`\n${ls.map(escapeMrkdwn).join('\n')}\n\`\`\`` };
  // one unit per call: every part comes back on its own, one section each
  return splitMessages([unit], { limit: SECTION_LIMIT }).map(section);
}

function section(text: string): types.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

/** Groups packed into messages of at most 50 blocks; a group larger than a message is cut between its blocks. */
function packGroups(groups: types.KnownBlock[][]): types.KnownBlock[][] {
  const out: types.KnownBlock[][] = [];
  let cur: types.KnownBlock[] = [];
  for (const g of groups) {
    if (cur.length + g.length > BLOCKS_PER_MESSAGE && cur.length > 0) {
      out.push(cur);
      cur = [];
    }
    for (const blk of g) {
      if (cur.length === BLOCKS_PER_MESSAGE) {
        out.push(cur);
        cur = [];
      }
      cur.push(blk);
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** The first words of a message, as plain as mrkdwn allows, for notifications. */
function fallbackText(blocks: types.KnownBlock[]): string {
  for (const b of blocks) {
    if (b.type === 'section') {
      const t = b.text?.text ?? b.fields?.map((f) => f.text).join(' ') ?? '';
      const plain = t.replace(/```/g, '').replace(/\s+/g, ' ').trim();
      if (plain !== '') return clip(plain, FALLBACK_LIMIT);
    }
  }
  return 'deskbot';
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function pngName(name: string): string {
  const slug = name.replace(/\.png$/i, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'image';
  return `${slug}.png`;
}

/**
 * The message after one of its buttons was pressed: that actions block (and the small print we
 * put under it) replaced by a note, so nobody presses a spent button again. Null when the
 * message no longer has that block (already answered).
 */
export function afterPress(blocks: unknown, blockId: string, note: string): types.KnownBlock[] | null {
  if (!Array.isArray(blocks)) return null;
  const list = blocks as Array<{ type?: string; block_id?: string }>;
  const i = list.findIndex((b) => b.block_id === blockId && b.type === 'actions');
  if (i < 0) return null;
  const smallPrint = list[i + 1]?.type === 'context' ? 1 : 0;
  const noteBlock: types.ContextBlock = { type: 'context', elements: [{ type: 'mrkdwn', text: clip(note, SECTION_LIMIT) }] };
  return [...list.slice(0, i), noteBlock, ...list.slice(i + 1 + smallPrint)] as types.KnownBlock[];
}
