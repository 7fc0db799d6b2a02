import { describe, expect, it } from 'vitest';
import type { Update } from 'telegraf/types';
import { tableLines } from '../../src/adapters/common/text-table.js';
import { ButtonCommands } from '../../src/adapters/telegram/buttons.js';
import { escapeHtml } from '../../src/adapters/telegram/html.js';
import { readUpdate } from '../../src/adapters/telegram/inbound.js';
import { CAPTION_LIMIT, MESSAGE_LIMIT, renderReply, type Outgoing } from '../../src/adapters/telegram/render.js';
import { maskToken } from '../../src/adapters/telegram/retry.js';
import { block, reply, type Block } from '../../src/kernel/index.js';
import { parseTelegramHtml } from '../fakes/telegram/html.js';

const plainData = (command: string): string => command;

/** what Telegram shows for one outgoing message (its HTML parsed as the Bot API does) */
function shown(o: Outgoing): { text: string; entities: Array<{ type: string; offset: number; length: number; language?: string }> } {
  const html = o.kind === 'text' ? o.html : (o.captionHtml ?? '');
  const p = parseTelegramHtml(html);
  if (!p.ok) throw new Error(`Telegram would refuse ${JSON.stringify(html.slice(0, 80))}: ${p.error}`);
  return p;
}

describe('Telegram rendering (HTML parse mode)', () => {
  it('escapes &, < and > so the person sees exactly the text', () => {
    const text = 'P&L <b>not bold</b> a>b &amp; AT&T<1>';
    const [out] = renderReply(reply.text(text), { buttonData: plainData });
    expect(out?.kind).toBe('text');
    expect(out?.kind === 'text' && out.html).toBe(escapeHtml(text));
    expect(shown(out as Outgoing).text).toBe(text);
  });

  it('marks tones and keeps info plain', () => {
    const out = renderReply(reply.of(block.text('done', 'ok'), block.text('careful', 'warn'), block.text('no', 'error'), block.text('fyi')), { buttonData: plainData });
    expect(out).toHaveLength(1);
    expect(shown(out[0] as Outgoing).text).toBe('✅ done\n⚠️ careful\n⛔ no\nfyi');
  });

  it('renders a table as a titled <pre> whose text is the monospace table', () => {
    const t = block.table(['symbol', 'last'], [['BTC/USDT', '97,000.5'], ['ETH<x>', '3,100']], { title: 'Prices & co' });
    const [out] = renderReply(reply.of(t), { buttonData: plainData });
    const s = shown(out as Outgoing);
    const lines = tableLines(t as Extract<Block, { type: 'table' }>).lines.join('\n');
    expect(s.text).toBe(`Prices & co\n${lines}`);
    expect(s.entities.map((e) => e.type)).toEqual(['bold', 'pre']);
    const pre = s.entities.find((e) => e.type === 'pre');
    expect(s.text.slice(pre?.offset, (pre?.offset ?? 0) + (pre?.length ?? 0))).toBe(lines);
  });

  it('renders code with its language as <pre><code class="language-…">', () => {
    const [out] = renderReply(reply.of(block.code('if a < b && c > d {}', 'rust')), { buttonData: plainData });
    expect(out?.kind === 'text' && out.html).toBe('<pre><code class="language-rust">if a &lt; b &amp;&amp; c &gt; d {}</code></pre>');
    expect(shown(out as Outgoing).entities).toEqual([{ type: 'pre', offset: 0, length: 20, language: 'rust' }]);
  });

  it('splits a 150-row table under 4,096 characters, each part a whole table with its header', () => {
    const rows = Array.from({ length: 150 }, (_, i) => [`ROW${String(i).padStart(3, '0')}/USDT <&>`, (i * 1234.5).toFixed(2), 'x'.repeat(40)]);
    const t = block.table(['symbol', 'price', 'note'], rows, { title: 'Big' });
    const out = renderReply(reply.of(block.text('before'), t, block.text('after')), { buttonData: plainData });
    expect(out.length).toBeGreaterThan(1);
    const header = tableLines(t as Extract<Block, { type: 'table' }>).lines.slice(0, 2);
    const seen: string[] = [];
    for (const o of out) {
      expect(o.kind).toBe('text');
      if (o.kind !== 'text') continue;
      expect(o.html.length).toBeLessThanOrEqual(MESSAGE_LIMIT);
      const s = shown(o);
      for (const pre of s.entities.filter((e) => e.type === 'pre')) {
        const body = s.text.slice(pre.offset, pre.offset + pre.length).split('\n');
        expect(body.slice(0, 2)).toEqual(header);
        seen.push(...body.slice(2).map((l) => /ROW\d{3}/.exec(l)?.[0] ?? l));
      }
    }
    expect(seen).toEqual(rows.map((r) => r[0]?.slice(0, 6)));
    expect(shown(out[0] as Outgoing).text.startsWith('before')).toBe(true);
    expect(shown(out[1] as Outgoing).text.startsWith('Big\n')).toBe(true);
    expect(shown(out[out.length - 1] as Outgoing).text.endsWith('after')).toBe(true);
  });

  it('sends an image as a photo with the following text as its caption when it fits', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const out = renderReply(reply.of({ type: 'image', png, alt: 'BTC/USDT 1h chart', filename: 'BTC-USDT_1h.png' }, block.text('100 candles <ok>')), { buttonData: plainData });
    expect(out).toEqual([{ kind: 'photo', png, filename: 'BTC-USDT_1h.png', captionHtml: '100 candles &lt;ok&gt;' }]);
    const long = 'y'.repeat(CAPTION_LIMIT + 1);
    const out2 = renderReply(reply.of({ type: 'image', png, alt: 'a chart' }, block.text(long)), { buttonData: plainData });
    expect(out2.map((o) => o.kind)).toEqual(['photo', 'text']);
    expect(out2[0]?.kind === 'photo' && out2[0].filename).toBe('a_chart.png');
  });

  it('puts buttons on the message before them as an inline keyboard', () => {
    const buttons = new ButtonCommands();
    const long = `/approve ${'k'.repeat(80)}`;
    const out = renderReply(
      reply.of(
        block.text('Confirm /buy BTC/USDT 0.01?', 'warn'),
        block.buttons([
          { label: 'Confirm', command: '/confirm k3x9', style: 'danger' },
          { label: 'Cancel', command: '/reject k3x9' },
          { label: 'Long', command: long },
        ]),
      ),
      { buttonData: (c) => buttons.dataFor(c) },
    );
    expect(out).toHaveLength(1);
    const kb = out[0]?.keyboard?.flat() ?? [];
    expect(kb.map((b) => b.text)).toEqual(['Confirm', 'Cancel', 'Long']);
    expect(kb[0]?.callback_data).toBe('/confirm k3x9');
    const token = kb[2]?.callback_data ?? '';
    expect(Buffer.byteLength(token)).toBeLessThanOrEqual(64);
    expect(buttons.commandFor(token)).toBe(long);
    expect(buttons.commandFor('~unknown')).toBeUndefined();
    // buttons with nothing before them still need a message to sit on
    expect(renderReply(reply.of(block.buttons([{ label: 'Go', command: '/go' }])), { buttonData: plainData })).toEqual([
      { kind: 'text', html: 'Choose:', keyboard: [[{ text: 'Go', callback_data: '/go' }]] },
    ]);
  });

  it('forgets the oldest long-command tokens past its capacity', () => {
    const b = new ButtonCommands(2);
    const t1 = b.dataFor(`/x ${'a'.repeat(70)}`);
    const t2 = b.dataFor(`/x ${'b'.repeat(70)}`);
    const t3 = b.dataFor(`/x ${'c'.repeat(70)}`);
    expect(b.commandFor(t1)).toBeUndefined();
    expect(b.commandFor(t2)).toContain('b');
    expect(b.commandFor(t3)).toContain('c');
  });
});

describe('reading updates', () => {
  const from = { id: 1001, is_bot: false, first_name: 'Ann', username: 'ann' };
  const group = { id: -1001, type: 'supergroup', title: 'Desk', is_forum: true };
  const msg = (text: string, chat: object = group, extra: object = {}): Update =>
    ({ update_id: 1, message: { message_id: 7, date: 0, chat, from, text, ...extra } }) as unknown as Update;

  it('takes commands in groups (with or without @thisbot), and ignores chatter and other bots', () => {
    expect(readUpdate(msg('/price btc'), 'desk_bot')).toMatchObject({ kind: 'message', msg: { id: '-1001:7', userId: '1001', channelId: '-1001', text: '/price btc' } });
    expect(readUpdate(msg('/price@Desk_Bot btc'), 'desk_bot').kind).toBe('message');
    expect(readUpdate(msg('/price@other_bot btc'), 'desk_bot').kind).toBe('ignore');
    expect(readUpdate(msg('yes'), 'desk_bot').kind).toBe('ignore');
  });

  it('takes any text in a private chat and does not quote it back', () => {
    const r = readUpdate(msg('yes', { id: 1001, type: 'private', first_name: 'Ann' }), 'desk_bot');
    expect(r).toMatchObject({ kind: 'message', msg: { text: 'yes', channelId: '1001' }, target: { group: false } });
  });

  it('keeps a forum topic as the thread', () => {
    const r = readUpdate(msg('/price', group, { message_thread_id: 42, is_topic_message: true }), 'desk_bot');
    expect(r).toMatchObject({ kind: 'message', msg: { threadId: '42' }, target: { chatId: '-1001', threadId: '42', replyTo: 7, group: true } });
  });

  it('reads a button press as the presser in the message chat', () => {
    const u = {
      update_id: 2,
      callback_query: { id: '99', from: { id: 2002, is_bot: false, first_name: 'Tom' }, chat_instance: 'c', data: '/confirm k3x9', message: { message_id: 8, date: 0, chat: group, message_thread_id: 42, is_topic_message: true, text: 'Confirm?' } },
    } as unknown as Update;
    expect(readUpdate(u, 'desk_bot')).toMatchObject({ kind: 'button', queryId: '99', data: '/confirm k3x9', from: { id: '2002' }, target: { chatId: '-1001', threadId: '42' } });
  });
});

describe('keeping the token out of text', () => {
  it('masks the token and anything shaped like one', () => {
    const token = '123456789:AAHfakeTokenForTests_abcdefghijk';
    expect(maskToken(`request to http://x/bot${token}/getMe failed`, token)).toBe('request to http://x/bot[REDACTED]/getMe failed');
    expect(maskToken('bot987654321:ZZsomeOtherLookingToken_xyz123/sendMessage', 'nope')).toBe('bot[REDACTED]/sendMessage');
  });
});
