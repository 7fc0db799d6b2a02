import { describe, expect, it } from 'vitest';
import { ButtonTokens } from '../../src/adapters/discord/buttons.js';
import { applicationCommands, commandLine } from '../../src/adapters/discord/commands.js';
import { DISCORD_LIMITS, embedLength, escapeText, renderReply } from '../../src/adapters/discord/render.js';
import { describeError } from '../../src/adapters/discord/retry.js';
import { arg } from '../../src/kernel/commands/args.js';
import type { RegisteredCommand } from '../../src/kernel/commands/command.js';
import { parseArgs } from '../../src/kernel/commands/parse-args.js';
import { tokenize } from '../../src/kernel/commands/tokenize.js';
import { block, reply, type Reply } from '../../src/kernel/reply.js';
import { escapeMarkdown, HTTPError } from 'discord.js';

const ids = { buttonId: (c: string) => `id:${c}` };

function cmd(name: string, args: RegisteredCommand['spec']['args']): RegisteredCommand {
  return { plugin: 'test', usage: `/${name}`, spec: { name, summary: `${name} things`, args, permission: null, handler: () => reply.text('ok') } };
}

describe('Discord rendering', () => {
  it('text with a tone, a key/value table as inline fields, a grid as a code block, in one colour', () => {
    const r: Reply = reply.of(
      block.text('Careful: *not* bold', 'warn'),
      block.kv({ notional: '120.50 USDT', fee: '0.12 USDT' }, 'Order'),
      block.table(['symbol', 'last'], [['BTC/USDT', '43000.1']]),
    );
    const [m, ...rest] = renderReply(r, ids);
    expect(rest).toHaveLength(0);
    expect(m?.embeds).toHaveLength(3);
    const [text, kv, grid] = m?.embeds ?? [];
    expect(text?.description).toBe('⚠️ Careful: \\*not\\* bold');
    expect(kv).toMatchObject({ title: 'Order', fields: [{ name: 'notional', value: '120.50 USDT', inline: true }, { name: 'fee', value: '0.12 USDT', inline: true }] });
    expect(grid?.description).toMatch(/^```\n {2}symbol +last\n {2}─+ {2}─+\n {2}BTC\/USDT +43000\.1\n```$/);
    expect(new Set(m?.embeds.map((e) => e.color))).toEqual(new Set([0xfee75c]));
  });

  it('a key/value table too big for fields falls back to a monospace block', () => {
    const rows = Array.from({ length: 30 }, (_, i) => [`k${i}`, `v${i}`]);
    const [m] = renderReply(reply.of({ type: 'table', rows }), ids);
    expect(m?.embeds[0]?.fields).toBeUndefined();
    expect(m?.embeds[0]?.description).toContain('k29  v29');
  });

  it('a 150-row table is split under the limits, each part a whole code block with the header', () => {
    const rows = Array.from({ length: 150 }, (_, i) => [`ROW${String(i).padStart(3, '0')}/USDT`, (1000 + i * 7.25).toFixed(2), `${(i % 13) - 6}.5%`, 'binance']);
    const msgs = renderReply(reply.of(block.text('Watchlist'), block.table(['symbol', 'last', '24h', 'source'], rows)), ids);
    const parts = msgs.flatMap((m) => m.embeds.map((e) => e.description ?? ''));
    expect(parts.length).toBeGreaterThan(1);
    const seen: string[] = [];
    for (const m of msgs) {
      expect(m.embeds.length).toBeLessThanOrEqual(DISCORD_LIMITS.embedsPerMessage);
      expect(m.embeds.reduce((n, e) => n + embedLength(e), 0)).toBeLessThanOrEqual(DISCORD_LIMITS.embedTotal);
    }
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(DISCORD_LIMITS.description);
      const code = p.slice(p.indexOf('```'));
      expect(code).toMatch(/^```\n {2}symbol +last +24h +source\n {2}─/);
      expect(code.endsWith('\n```')).toBe(true);
      seen.push(...[...code.matchAll(/ROW\d{3}/g)].map((x) => x[0]));
    }
    expect(seen).toEqual(rows.map((r) => (r[0] as string).slice(0, 6)));
  });

  it('buttons become a native row on the last message; styles map; ids come from the adapter', () => {
    const [m] = renderReply(
      reply.of(
        block.text('Confirm?'),
        block.buttons([
          { label: 'Confirm', command: '/confirm k3x9', style: 'danger' },
          { label: 'Cancel', command: '/reject k3x9' },
        ]),
      ),
      ids,
    );
    expect(m?.components).toEqual([
      {
        type: 1,
        components: [
          { type: 2, style: 4, label: 'Confirm', custom_id: 'id:/confirm k3x9' },
          { type: 2, style: 2, label: 'Cancel', custom_id: 'id:/reject k3x9' },
        ],
      },
    ]);
  });

  it('an image is an attachment shown in its own embed, with the alt text as description', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const [m] = renderReply(reply.of(block.text('Chart'), { type: 'image', png, alt: 'BTC/USDT 1h', filename: 'BTC chart.png' }, { type: 'image', png, alt: 'again', filename: 'BTC chart.png' }), ids);
    expect(m?.files.map((f) => f.name)).toEqual(['btc-chart.png', 'btc-chart-2.png']);
    expect(m?.files[0]?.description).toBe('BTC/USDT 1h');
    expect(m?.embeds[1]?.image?.url).toBe('attachment://btc-chart.png');
    expect(m?.embeds[2]?.image?.url).toBe('attachment://btc-chart-2.png');
  });

  it('``` inside code cannot end the block', () => {
    const [m] = renderReply(reply.of(block.code('a\n```\nb')), ids);
    expect((m?.embeds[0]?.description?.match(/```/g) ?? []).length).toBe(2);
  });

  it('an empty reply renders to nothing (the adapter answers "Done.")', () => {
    expect(renderReply({ blocks: [] }, ids)).toEqual([]);
  });
});

describe('application commands from kernel commands', () => {
  const buy = cmd('buy', {
    symbol: arg.symbol().describe('btc, BTC/USDT'),
    size: arg.string({ max: 30 }),
    limit: arg.string().optional(),
  });
  const chart = cmd('chart', {
    tf: arg.choice(['1h', '4h', '1d'] as const).optional(),
    symbol: arg.symbol(),
    bars: arg.int({ min: 10 }).optional(),
    scale: arg.number().optional(),
    mode: arg.string().hint('on|off').optional(),
  });
  const halt = cmd('halt', { reason: arg.string({ max: 200 }).rest().optional() });

  it('maps hints to option types, required options first, symbols with autocomplete', () => {
    const { body, skipped } = applicationCommands([buy, chart]);
    expect(skipped).toEqual([]);
    expect(body[0]).toEqual({
      type: 1,
      name: 'buy',
      description: 'buy things',
      options: [
        { name: 'symbol', description: 'btc, BTC/USDT', required: true, type: 3, autocomplete: true },
        { name: 'size', description: 'text', required: true, type: 3 },
        { name: 'limit', description: 'text', required: false, type: 3 },
      ],
    });
    const opts = body[1]?.options ?? [];
    expect(opts.map((o) => [o.name, o.type, o.required])).toEqual([
      ['symbol', 3, true],
      ['tf', 3, false],
      ['bars', 4, false],
      ['scale', 10, false],
      ['mode', 3, false],
    ]);
    expect(opts[1]).toMatchObject({ choices: [{ name: '1h', value: '1h' }, { name: '4h', value: '4h' }, { name: '1d', value: '1d' }] });
    // a free-text argument that only hints at words is not narrowed to a menu
    expect(opts[4]).not.toHaveProperty('choices');
  });

  it('options become the line a person would type, which the kernel parses back to the same arguments', () => {
    const line = commandLine(chart, 'chart', [
      { name: 'symbol', value: 'ETH/USDT' },
      { name: 'bars', value: 120 },
      { name: 'scale', value: 0.0000001 },
    ]);
    expect(line).toBe('/chart symbol=ETH/USDT bars=120 scale=0.0000001');
    const tokens = tokenize(line.slice('/chart '.length));
    expect(tokens.ok && parseArgs(chart.spec.args ?? {}, tokens.tokens)).toEqual({ ok: true, args: { tf: undefined, symbol: 'ETH/USDT', bars: 120, scale: 0.0000001, mode: undefined } });
    expect(commandLine(buy, 'buy', [{ name: 'symbol', value: 'BTC/USDT' }, { name: 'size', value: '0.01' }])).toBe('/buy BTC/USDT 0.01');
    expect(commandLine(buy, 'buy', [{ name: 'symbol', value: 'btc' }, { name: 'size', value: 'x=1 "q"' }])).toBe('/buy btc "x=1 \\"q\\""');
  });

  it('free text stays as typed; quotes and apostrophes are quoted so the tokenizer keeps them', () => {
    expect(commandLine(halt, 'halt', [{ name: 'reason', value: 'spread blew out' }])).toBe('/halt spread blew out');
    const line = commandLine(halt, 'halt', [{ name: 'reason', value: `don't "panic"` }]);
    const tokens = tokenize(line.slice('/halt '.length));
    expect(tokens.ok && parseArgs(halt.spec.args ?? {}, tokens.tokens)).toEqual({ ok: true, args: { reason: `don't "panic"` } });
    expect(commandLine(undefined, 'gone', [])).toBe('/gone');
  });
});

describe('button tokens and errors', () => {
  it('maps ids back to commands until they expire; foreign ids are unknown', () => {
    let now = 0;
    const t = new ButtonTokens(1000, 3, () => now);
    const id = t.idFor('/confirm abc');
    expect(id.length).toBeLessThanOrEqual(100);
    expect(id).not.toContain('confirm');
    expect(t.commandFor(id)).toBe('/confirm abc');
    expect(t.commandFor('other:1')).toBeUndefined();
    now = 1001;
    expect(t.commandFor(id)).toBeUndefined();
    for (let i = 0; i < 5; i++) t.idFor(`/c ${i}`);
    expect(t.size).toBeLessThanOrEqual(3);
  });

  it('describes errors without interaction tokens or the bot token', () => {
    const e = new HTTPError(500, 'Internal Server Error', 'post', 'http://127.0.0.1/api/v10/interactions/123/aW50.secretTOKEN/callback', { body: undefined, files: undefined });
    const text = describeError(e, ['MTA.bot.token.value']);
    expect(text).toContain('500');
    expect(text).toContain('interactions/123/***');
    expect(text).not.toContain('secretTOKEN');
    expect(describeError(new Error('bad MTA.bot.token.value'), ['MTA.bot.token.value'])).toBe('Error: bad ***');
  });
});

describe('escapeText', () => {
  it('is escapeMarkdown exactly, on text with and without markdown characters', () => {
    // a fixed pseudo-random walk over an alphabet rich in what Discord treats as markdown
    const alphabet = ['a', 'Z', '0', '.', ' ', '\n', '-', '#', '[', ']', '(', ')', '<', '>', ':', '/', '*', '_', '~', '|', '`', '\\', 'https://x.io/a_b'];
    let seed = 7;
    const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let i = 0; i < 2_000; i++) {
      const text = Array.from({ length: 1 + (next() % 24) }, () => alphabet[next() % alphabet.length]).join('');
      expect(escapeText(text), JSON.stringify(text)).toBe(escapeMarkdown(text));
    }
    expect(escapeText('BTC/USDT 31,706.33 (binance)')).toBe('BTC/USDT 31,706.33 (binance)');
    expect(escapeText('tom_trader *admin*')).toBe('tom\\_trader \\*admin\\*');
  });
});
