import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LogLevel, type BlockAction, type ButtonAction, type SlashCommand } from '@slack/bolt';
import { fromButton, fromMention, fromSlashCommand } from '../../src/adapters/slack/inbound.js';
import { slackLogger } from '../../src/adapters/slack/logger.js';
import { escapeMrkdwn, mentionCommand, plainFromSlack } from '../../src/adapters/slack/mrkdwn.js';
import { afterPress, BLOCKS_PER_MESSAGE, renderReply, SECTION_LIMIT, type SlackMessagePart } from '../../src/adapters/slack/render.js';
import { block, reply, type Reply } from '../../src/kernel/reply.js';

const messages = (r: Reply): SlackMessagePart[] => renderReply(r).filter((p): p is SlackMessagePart => p.kind === 'message');
const texts = (m: SlackMessagePart): string[] => m.blocks.map((b) => (b.type === 'section' ? (b.text?.text ?? '') : ''));

describe('Slack rendering (Block Kit)', () => {
  it('text: a mrkdwn section, &, < and > escaped, the tone as an emoji', () => {
    const [m] = messages(reply.error('Use <symbol> & size > 0'));
    expect(m?.blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: ':x: Use &lt;symbol&gt; &amp; size &gt; 0' } }]);
    expect(m?.text).toBe(':x: Use &lt;symbol&gt; &amp; size &gt; 0');
    expect(texts(messages(reply.text('done', 'ok'))[0] as SlackMessagePart)).toEqual([':white_check_mark: done']);
    expect(texts(messages(reply.text('careful', 'warn'))[0] as SlackMessagePart)).toEqual([':warning: careful']);
    expect(texts(messages(reply.text('plain'))[0] as SlackMessagePart)).toEqual(['plain']);
  });

  it('long text: several sections under 3,000 characters, cut between paragraphs', () => {
    const paras = Array.from({ length: 40 }, (_, i) => `paragraph ${i} ${'word '.repeat(40)}`.trim());
    const [m] = messages(reply.text(paras.join('\n\n'), 'warn'));
    const t = texts(m as SlackMessagePart);
    expect(t.length).toBeGreaterThan(1);
    for (const s of t) expect(s.length).toBeLessThanOrEqual(SECTION_LIMIT);
    expect(t[0]?.startsWith(':warning: paragraph 0')).toBe(true);
    expect(t[1]?.startsWith(':warning:')).toBe(false);
    expect(t.join('\n\n').replace(':warning: ', '')).toBe(paras.join('\n\n'));
  });

  it('key/value table: a title section and fields, bold keys, at most 10 a section', () => {
    const rows: Array<[string, string]> = Array.from({ length: 23 }, (_, i) => [`k${i}`, `v<${i}>`]);
    const [m] = messages({ blocks: [block.kv(rows, 'Order preview')] });
    const blocks = m?.blocks ?? [];
    expect(blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: '*Order preview*' } });
    const sections = blocks.slice(1).map((b) => (b.type === 'section' ? (b.fields ?? []) : []));
    expect(sections.map((f) => f.length)).toEqual([10, 10, 3]);
    expect(sections[0]?.[0]).toEqual({ type: 'mrkdwn', text: '*k0*\nv&lt;0&gt;' });
  });

  it('a key/value table with a value too long for a field stays one monospace table', () => {
    const [m] = messages({ blocks: [block.kv({ short: 'x', long: 'y'.repeat(2100) })] });
    const t = texts(m as SlackMessagePart);
    expect(t.every((s) => s.startsWith('```\n'))).toBe(true);
    expect(t.join('')).toContain('short');
  });

  it('grid table: ``` sections; a long one is cut between rows with the header on every part', () => {
    const rows = Array.from({ length: 200 }, (_, i) => [`SYM${i}`, String(i * 1.5), i % 2 ? 'buy' : 'sell']);
    const [m] = messages({ blocks: [block.table(['symbol', 'price', 'side'], rows)] });
    const t = texts(m as SlackMessagePart);
    expect(t.length).toBeGreaterThan(1);
    for (const s of t) {
      expect(s.length).toBeLessThanOrEqual(SECTION_LIMIT);
      const lines = s.split('\n');
      expect(lines[0]).toBe('```');
      expect(lines[1]).toMatch(/^\s+symbol\s+price\s+side$/);
      expect(lines[2]).toMatch(/^\s+─+\s+─+\s+─+$/);
      expect(lines.at(-1)).toBe('```');
    }
    expect(t.flatMap((s) => s.split('\n').filter((l) => /SYM\d+/.test(l)))).toHaveLength(200);
  });

  it('code: a ``` section, escaped inside too', () => {
    const [m] = messages({ blocks: [block.code('a < b && c > d\nnext\n')] });
    expect(texts(m as SlackMessagePart)).toEqual(['```\na &lt; b &amp;&amp; c &gt; d\nnext\n```']);
  });

  it('buttons: an actions block (label, style, the command as value) and the typed equivalent as small print', () => {
    const [m] = messages({
      blocks: [
        block.buttons([
          { label: 'Confirm', command: '/confirm k3x9', style: 'danger' },
          { label: 'Cancel', command: '/reject k3x9' },
        ]),
      ],
    });
    expect(m?.blocks).toEqual([
      {
        type: 'actions',
        elements: [
          { type: 'button', text: { type: 'plain_text', text: 'Confirm', emoji: true }, action_id: 'deskbot:run:0', value: '/confirm k3x9', style: 'danger' },
          { type: 'button', text: { type: 'plain_text', text: 'Cancel', emoji: true }, action_id: 'deskbot:run:1', value: '/reject k3x9' },
        ],
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'or type `/confirm k3x9` · `/reject k3x9`' }] },
    ]);
  });

  it('images are parts of their own, in the reply order, named for upload', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const parts = renderReply({ blocks: [block.text('before'), { type: 'image', png, alt: 'BTC/USDT 1h chart' }, block.text('after')] });
    expect(parts.map((p) => p.kind)).toEqual(['message', 'image', 'message']);
    expect(parts[1]).toEqual({ kind: 'image', png, alt: 'BTC/USDT 1h chart', filename: 'btc-usdt-1h-chart.png' });
  });

  it('more than 50 blocks: several messages, none over 50, nothing lost', () => {
    const r: Reply = { blocks: Array.from({ length: 130 }, (_, i) => block.text(`line ${i}`)) };
    const ms = messages(r);
    expect(ms.map((m) => m.blocks.length)).toEqual([BLOCKS_PER_MESSAGE, BLOCKS_PER_MESSAGE, 30]);
    expect(ms.flatMap(texts)).toEqual(Array.from({ length: 130 }, (_, i) => `line ${i}`));
    expect(ms[1]?.text).toBe('line 50');
  });

  it('a table is not split from its title across messages when it fits the next one', () => {
    const r: Reply = { blocks: [...Array.from({ length: 49 }, (_, i) => block.text(`t${i}`)), block.kv({ a: '1', b: '2' }, 'Totals')] };
    const ms = messages(r);
    expect(ms.map((m) => m.blocks.length)).toEqual([49, 2]);
  });

  it('after a press: the actions block and its small print become a note', () => {
    const blocks = [
      { type: 'section', block_id: 's1', text: { type: 'mrkdwn', text: 'Confirm?' } },
      { type: 'actions', block_id: 'a1', elements: [] },
      { type: 'context', block_id: 'c1', elements: [] },
    ];
    expect(afterPress(blocks, 'a1', '<@U1> pressed *Confirm*')).toEqual([
      blocks[0],
      { type: 'context', elements: [{ type: 'mrkdwn', text: '<@U1> pressed *Confirm*' }] },
    ]);
    expect(afterPress(blocks, 'gone', 'x')).toBeNull();
    expect(afterPress(undefined, 'a1', 'x')).toBeNull();
  });
});

describe('Slack text in', () => {
  it('mentions: the bot mention dropped, markup reduced, entities decoded', () => {
    expect(mentionCommand('<@U0BOT> /price btc', 'U0BOT')).toBe('/price btc');
    expect(mentionCommand('<@U0BOT>: price btc &amp; eth', 'U0BOT')).toBe('price btc & eth');
    expect(mentionCommand('<@U0BOT|deskbot> help', 'U0BOT')).toBe('help');
    // someone else mentioned first: not ours to strip
    expect(mentionCommand('<@U999> <@U0BOT> help', 'U0BOT')).toBe('@U999 @U0BOT help');
    expect(plainFromSlack('see <https://x.example/a|the docs> in <#C1|desk> &lt;now&gt;')).toBe('see the docs in #desk <now>');
    expect(escapeMrkdwn('a & <b>')).toBe('a &amp; &lt;b&gt;');
  });

  it('a slash command: the desk command (reserved names mapped back), unescaped text, trigger_id as the id', () => {
    const c = { command: '/desk_status', text: '', user_id: 'U1', user_name: 'ann', channel_id: 'C1', trigger_id: 'T.1' } as SlashCommand;
    expect(fromSlashCommand(c)).toEqual({ platform: 'slack', id: 'cmd:T.1', userId: 'U1', userName: 'ann', channelId: 'C1', text: '/status' });
    expect(fromSlashCommand({ ...c, command: '/buy', text: 'btc 0.1 &lt;x&gt;' }).text).toBe('/buy btc 0.1 <x>');
  });

  it('an app mention keeps its thread; a button press runs its value as the presser', () => {
    const m = fromMention({ user: 'U1', text: '<@U0BOT> price btc', channel: 'C1', ts: '1.2', thread_ts: '1.1' }, 'Ev1', 'U0BOT');
    expect(m).toEqual({ platform: 'slack', id: 'evt:Ev1', userId: 'U1', channelId: 'C1', threadId: '1.1', text: 'price btc' });
    const body = {
      type: 'block_actions',
      trigger_id: 'trig.9',
      user: { id: 'U2', username: 'tom' },
      channel: { id: 'C1', name: 'desk' },
      container: { type: 'message', channel_id: 'C1', message_ts: '5.5' },
      message: { type: 'message', ts: '5.5', thread_ts: '1.1' },
      actions: [],
    } as unknown as BlockAction;
    const action = { type: 'button', action_id: 'deskbot:run:0', block_id: 'b', value: '/confirm k3x9', action_ts: '9.9', text: { type: 'plain_text', text: 'Confirm' } } as ButtonAction;
    expect(fromButton(body, action)).toEqual({ platform: 'slack', id: 'act:trig.9', userId: 'U2', userName: 'tom', channelId: 'C1', threadId: '1.1', text: '/confirm k3x9' });
  });
});

describe('Bolt logger bridge', () => {
  it('writes through pino at Bolt’s level and masks secrets in free text', () => {
    const lines: string[] = [];
    const log = slackLogger(pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) }), ['xoxb-secret-token-123']);
    log.setLevel(LogLevel.INFO);
    log.debug('hidden body');
    log.warn('call failed for', { token: 'xoxb-secret-token-123' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('call failed for');
    expect(lines[0]).not.toContain('xoxb-secret-token-123');
    expect(log.getLevel()).toBe(LogLevel.INFO);
  });
});
