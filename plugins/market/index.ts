import { z } from 'zod';
import {
  arg,
  block,
  defineCommand,
  definePlugin,
  renderCandleChart,
  reply,
  TIMEFRAMES,
  utcMinute,
  type MarketData,
  type Ticker,
} from '../../src/kernel/index.js';

/** `/price`, `/chart`, `/markets`: what traders ask the desk for first. */
export default definePlugin({
  name: 'market',
  version: '1.0.0',
  description: 'Prices, charts and market lists from the market data service',
  config: z
    .object({
      /** at most this many symbols in one /price */
      maxSymbols: z.number().int().min(1).max(50).default(10),
      defaultTimeframe: z.enum(TIMEFRAMES).default('1h'),
      defaultBars: z.number().int().min(10).max(1000).default(120),
    })
    .strict(),
  setup(ctx) {
    const market = ctx.market;
    const exchangeArg = arg.string({ pattern: /^[a-z][a-z0-9]*$/, patternHint: 'an exchange id like binance' }).optional().describe('default: the configured exchange');

    ctx.command(
      defineCommand({
        name: 'price',
        summary: 'Last price, 24 h change and volume, with source and data age',
        aliases: ['p'],
        args: {
          symbols: arg.string({ max: 300 }).rest().describe('one or more symbols: btc eth/usdt SOL-USDT'),
          exchange: exchangeArg,
        },
        permission: 'market:read',
        examples: ['/price btc', '/price BTC/USDT ETH/USDT sol', '/price btc exchange=kraken'],
        handler: async (c) => {
          const symbols = c.args.symbols.split(/[\s,]+/).filter(Boolean);
          if (symbols.length > ctx.config.maxSymbols) c.fail(`at most ${ctx.config.maxSymbols} symbols at once`);
          const exchange = c.args.exchange;
          // one failing symbol (typo, outage) does not hide the others
          const results = await Promise.allSettled(symbols.map((s) => market.ticker(exchange === undefined ? { symbol: s } : { symbol: s, exchange })));
          const rows: string[][] = [];
          const problems: string[] = [];
          results.forEach((r, i) => {
            if (r.status === 'fulfilled') rows.push(priceRow(r.value, market));
            else problems.push(r.reason instanceof Error ? r.reason.message : `${symbols[i]}: ${String(r.reason)}`);
          });
          if (rows.length === 0) c.fail(problems.join('\n'));
          const blocks = [
            block.table(['symbol', 'last', '24h', 'volume 24h', 'as of (UTC)', 'age', 'source'], rows, {
              align: ['left', 'right', 'right', 'right', 'left', 'right', 'left'],
            }),
          ];
          if (problems.length > 0) blocks.push(block.text(problems.join('\n'), 'warn'));
          return { blocks };
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'chart',
        summary: 'Candlestick and volume chart as an image',
        args: {
          symbol: arg.symbol(),
          timeframe: arg.choice(TIMEFRAMES).optional(),
          bars: arg.int({ min: 10, max: 1000 }).optional().describe('how many candles'),
          exchange: exchangeArg,
        },
        permission: 'market:read',
        examples: ['/chart btc', '/chart eth/usdt 5m 288'],
        handler: async (c) => {
          const timeframe = c.args.timeframe ?? ctx.config.defaultTimeframe;
          const bars = c.args.bars ?? ctx.config.defaultBars;
          const candles = await market.candles({
            symbol: c.args.symbol,
            timeframe,
            limit: bars,
            ...(c.args.exchange !== undefined ? { exchange: c.args.exchange } : {}),
          });
          if (candles.length === 0) c.fail(`${candles.exchange} ${candles.symbol} ${timeframe}: no candles on record`);
          const png = renderCandleChart(candles);
          const last = candles.close[candles.length - 1] as number;
          const gaps = candles.gaps.reduce((s, g) => s + g.missing, 0);
          const caption = `${candles.exchange} ${candles.symbol} ${timeframe}: ${candles.length} candles, last close ${formatPrice(last)}${
            gaps > 0 ? ` — ${gaps} candles missing in this range (shown as gaps, not filled)` : ''
          } (${candles.source})`;
          return reply.of({ type: 'image', png, alt: `${candles.symbol} ${timeframe} chart`, filename: `${candles.symbol.replace('/', '-')}_${timeframe}.png` }, block.text(caption));
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'markets',
        summary: 'Markets on an exchange, optionally filtered',
        args: {
          exchange: arg.string({ pattern: /^[a-z][a-z0-9]*$/, patternHint: 'an exchange id like binance' }).optional(),
          filter: arg.string({ max: 20 }).optional().describe('text in the symbol, e.g. usdt or sol'),
        },
        permission: 'market:read',
        examples: ['/markets', '/markets binance sol'],
        handler: async (c) => {
          // one word that is not a configured exchange is read as the filter: "/markets sol"
          let exchange = c.args.exchange;
          let filter = c.args.filter;
          if (exchange !== undefined && filter === undefined && !market.exchanges().includes(exchange)) {
            filter = exchange;
            exchange = undefined;
          }
          const ex = exchange ?? market.defaultExchange;
          const all = await market.markets(ex);
          const needle = filter?.toUpperCase();
          const hits = all.filter((m) => needle === undefined || m.symbol.includes(needle)).sort((a, b) => a.symbol.localeCompare(b.symbol));
          const shown = hits.slice(0, 50);
          const rows = shown.map((m) => [m.symbol, m.active ? 'yes' : 'no', m.taker === null ? '—' : `${(m.taker * 100).toFixed(3)}%`]);
          const blocks = [block.table(['symbol', 'active', 'taker fee'], rows, { title: `${ex}: ${hits.length} of ${all.length} markets${filter ? ` matching "${filter}"` : ''}` })];
          if (hits.length > shown.length) blocks.push(block.text(`and ${hits.length - shown.length} more; narrow it with a filter.`));
          return { blocks };
        },
      }),
    );
  },
});

function priceRow(t: Ticker, market: MarketData): string[] {
  const change = t.change24hPct === null ? '—' : `${t.change24hPct >= 0 ? '+' : ''}${t.change24hPct.toFixed(2)}%`;
  // quote volume when the exchange gives it; recorded candles only carry base volume
  const [base, quote] = t.symbol.split('/');
  const volume =
    t.quoteVolume24h !== null
      ? `${compact(t.quoteVolume24h)} ${quote ?? ''}`.trim()
      : t.baseVolume24h !== null
        ? `${compact(t.baseVolume24h)} ${base ?? ''}`.trim()
        : '—';
  return [
    `${t.symbol} (${t.exchange})`,
    formatPrice(t.last),
    change,
    volume,
    utcMinute(t.time),
    age(market.now() - t.time),
    t.source === 'replay' ? 'recorded' : 'live',
  ];
}

/** significant digits that suit the price: 64012.5, 1.2345, 0.00001234 */
export function formatPrice(p: number): string {
  if (p >= 1000) return p.toLocaleString('en-US', { maximumFractionDigits: 2 });
  if (p >= 1) return p.toLocaleString('en-US', { maximumFractionDigits: 4 });
  return p.toPrecision(4);
}

function compact(n: number): string {
  const units: Array<[number, string]> = [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [v, u] of units) if (Math.abs(n) >= v) return `${(n / v).toFixed(2)}${u}`;
  return n.toFixed(2);
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
