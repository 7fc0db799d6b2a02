import { z } from 'zod';
import { DataGapError, MarketError, TIMEFRAMES, timeframeMs, utcAt, type CheckedCandles, type MarketData, type MarketInfo } from '../../src/kernel/index.js';
import { Indicators, type Series } from './rules.js';

/**
 * /scan: rank every market of one quote currency on an exchange by one measure and show the
 * fast movers. Every symbol is measured on its own contiguous window of closed candles; a
 * symbol whose window crosses a gap is skipped and counted (never computed across a hole).
 */

export const MEASURES = ['momentum', 'breakout', 'volume'] as const;
export type Measure = (typeof MEASURES)[number];

export interface ScanQuery {
  exchange?: string;
  quote?: string;
  timeframe?: string;
  top?: number;
  by?: Measure;
}

export const SCAN_GRAMMAR = '[exchange] [quote] [timeframe] [top N] [by momentum|breakout|volume]';

/**
 * The words after /scan, e.g. "usdt 1h top 10 by momentum", "binance:usdt by volume", "top 5".
 * "top" and "by" are keywords taking the next word; a known exchange, a timeframe and a quote
 * currency are recognised by their form; each may be given once.
 */
export function scanQuerySchema(opts: { exchanges: readonly string[]; maxTop: number }): z.ZodType<ScanQuery, string> {
  const exchanges = new Set(opts.exchanges.map((e) => e.toLowerCase()));
  const timeframes = new Set<string>(TIMEFRAMES);
  return z.string().transform((text, ctx): ScanQuery => {
    const words = text.split(/\s+/).filter(Boolean);
    const q: ScanQuery = {};
    const fail = (msg: string): never => {
      ctx.addIssue(`${msg} — expected ${SCAN_GRAMMAR}, e.g. "usdt 1h top 10 by momentum"`);
      return z.NEVER as never;
    };
    /** null when set; the problem when this part was already given */
    const set = <K extends keyof ScanQuery>(key: K, value: ScanQuery[K], word: string): string | null => {
      if (q[key] !== undefined) return `${key} given twice ("${word}")`;
      q[key] = value;
      return null;
    };
    for (let k = 0; k < words.length; k++) {
      const word = words[k] as string;
      const w = word.toLowerCase();
      let problem: string | null = null;
      if (w === 'top') {
        const n = words[k + 1];
        if (n === undefined || !/^\d+$/.test(n)) return fail(`"top" needs a whole number after it${n === undefined ? '' : `, got "${n}"`}`);
        const v = Number(n);
        if (v < 1 || v > opts.maxTop) return fail(`top ${v}: expected 1 to ${opts.maxTop}`);
        problem = set('top', v, word);
        k++;
      } else if (w === 'by') {
        const m = words[k + 1]?.toLowerCase();
        if (m === undefined || !(MEASURES as readonly string[]).includes(m)) {
          return fail(`"by" needs one of ${MEASURES.join(', ')}${m === undefined ? '' : `, got "${words[k + 1]}"`}`);
        }
        problem = set('by', m as Measure, word);
        k++;
      } else if (timeframes.has(word)) {
        problem = set('timeframe', word, word);
      } else if (exchanges.has(w)) {
        problem = set('exchange', w, word);
      } else if (/^[a-z][a-z0-9]*:[a-z0-9]{2,10}$/i.test(word)) {
        const [ex, quote] = w.split(':') as [string, string];
        if (!exchanges.has(ex)) return fail(`unknown exchange "${ex}" (known: ${[...exchanges].join(', ')})`);
        problem = set('exchange', ex, word) ?? set('quote', quote.toUpperCase(), word);
      } else if (/^[a-z][a-z0-9]{1,9}$/i.test(word)) {
        problem = set('quote', word.toUpperCase(), word);
      } else if (/^\d+[a-z]+$/i.test(word)) {
        return fail(`"${word}" is not a timeframe (use one of ${TIMEFRAMES.join(', ')})`);
      } else {
        return fail(`did not understand "${word}"`);
      }
      if (problem !== null) return fail(problem);
    }
    return q;
  });
}

// ---------------------------------------------------------------- measures

export const SCAN_PARAMS = { roc: 12, rsi: 14, vol: 30, channel: 20, volumeAvg: 20 } as const;
/** fewest contiguous candles every measure is defined with */
export const SCAN_WARMUP = Math.max(SCAN_PARAMS.roc + 1, SCAN_PARAMS.rsi + 1, SCAN_PARAMS.vol + 1, SCAN_PARAMS.channel + 1, SCAN_PARAMS.volumeAvg + 1);

export interface ScanValues {
  close: number;
  /** percent change over 12 candles */
  roc: number;
  rsi: number;
  /** log return over 12 candles in units of its volatility: ln(c/c₋₁₂) / (σ₁ × √12) */
  momentum: number;
  /** (close − mid) / (high − mid) of the previous 20 candles' Donchian channel */
  breakout: number;
  /** volume / average volume of the previous 20 candles */
  volumeRatio: number;
}

/** The scan's numbers at candle i, from candles ≤ i only. NaN where a measure is not defined. */
export function measureAt(x: Indicators, i: number): ScanValues {
  const c = x.c.close;
  const close = c[i] as number;
  const p = SCAN_PARAMS;
  const back = i - p.roc >= 0 ? (c[i - p.roc] as number) : Number.NaN;
  const sigma = i >= 0 ? (x.realizedVol(p.vol)[i] as number) : Number.NaN;
  const dc = x.donchian(p.channel);
  const hi = i >= 1 ? (dc.upper[i - 1] as number) : Number.NaN;
  const lo = i >= 1 ? (dc.lower[i - 1] as number) : Number.NaN;
  const mid = (hi + lo) / 2;
  const avgVol = i >= 1 ? (x.volumeSma(p.volumeAvg)[i - 1] as number) : Number.NaN;
  return {
    close,
    roc: x.roc(p.roc)[i] as number,
    rsi: x.rsi(p.rsi)[i] as number,
    momentum: sigma > 0 ? Math.log(close / back) / (sigma * Math.sqrt(p.roc)) : Number.NaN,
    breakout: hi > lo ? (close - mid) / (hi - mid) : Number.NaN,
    volumeRatio: avgVol > 0 ? (x.c.volume[i] as number) / avgVol : Number.NaN,
  };
}

export function measureOf(v: ScanValues, by: Measure): number {
  return by === 'momentum' ? v.momentum : by === 'breakout' ? v.breakout : v.volumeRatio;
}

export interface ScanRow extends ScanValues {
  symbol: string;
  candleTime: number;
}

/** Largest first: |measure| for momentum and breakout (fast either way), the ratio for volume; ties by symbol. */
export function rank<R extends ScanValues & { symbol: string }>(rows: readonly R[], by: Measure): R[] {
  const key = (r: R): number => (by === 'volume' ? measureOf(r, by) : Math.abs(measureOf(r, by)));
  return rows.filter((r) => Number.isFinite(measureOf(r, by))).sort((a, b) => key(b) - key(a) || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
}

// ---------------------------------------------------------------- the scan

export interface Skipped {
  why: string;
  symbols: string[];
}

export interface ScanOutcome {
  exchange: string;
  quote: string;
  timeframe: string;
  by: Measure;
  /** markets in the universe */
  universe: number;
  /** symbols measured and ranked */
  ranked: number;
  rows: ScanRow[];
  skipped: Skipped[];
  candleTime: number;
  window: number;
  source: string;
}

/** Reads `need` contiguous candles ending at or before the one opening at `until` (see index.ts); throws MarketErrors. */
export type WindowReader = (req: { symbol: string; exchange: string; timeframe: string }, need: number, until: number) => Promise<CheckedCandles>;

export async function runScan(opts: {
  market: MarketData;
  read: WindowReader;
  exchange: string;
  quote: string;
  timeframe: string;
  by: Measure;
  top: number;
  window: number;
  concurrency: number;
}): Promise<ScanOutcome> {
  const all = await opts.market.markets(opts.exchange);
  const universe = all.filter((m) => m.quote === opts.quote && m.active).sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
  if (universe.length === 0) throw new MarketError(`${opts.exchange} has no active ${opts.quote} markets (quotes there: ${quotesOf(all)})`);

  const measured: ScanRow[] = [];
  const skips = new Map<string, string[]>();
  const skip = (why: string, symbol: string): void => {
    const l = skips.get(why);
    if (l) l.push(symbol);
    else skips.set(why, [symbol]);
  };
  // every symbol is measured at the same candle: the last one closed when the scan started
  const tfMs = timeframeMs(opts.timeframe);
  if (tfMs === undefined) throw new MarketError(`"${opts.timeframe}" is not a timeframe (use one of ${TIMEFRAMES.join(', ')})`);
  const until = Math.floor(opts.market.now() / tfMs) * tfMs - tfMs;
  let source = '';
  await pool(universe, opts.concurrency, async (m) => {
    let w: CheckedCandles;
    try {
      w = await opts.read({ symbol: m.symbol, exchange: opts.exchange, timeframe: opts.timeframe }, opts.window, until);
    } catch (e) {
      if (e instanceof DataGapError) return skip(`window crosses a gap in the record`, m.symbol);
      if (e instanceof MarketError) return skip(shortReason(e.message, opts.timeframe), m.symbol);
      throw e;
    }
    source = w.source === 'replay' ? 'recorded' : 'live';
    const x = new Indicators(w as Series);
    const i = w.length - 1;
    measured.push({ symbol: m.symbol, candleTime: w.time[i] as number, ...measureAt(x, i) });
  });

  // a series that stopped earlier (delisted, halted, a record that ends sooner) is not "now": not ranked with the others
  const current = measured.filter((r) => {
    if (r.candleTime === until) return true;
    skip(`no ${utcAt(until)} candle (its data ends earlier)`, r.symbol);
    return false;
  });
  const ranked = rank(current, opts.by);
  for (const r of current) if (!Number.isFinite(measureOf(r, opts.by))) skip(`${opts.by} not defined (flat prices or no volume)`, r.symbol);

  return {
    exchange: opts.exchange,
    quote: opts.quote,
    timeframe: opts.timeframe,
    by: opts.by,
    universe: universe.length,
    ranked: ranked.length,
    rows: ranked.slice(0, opts.top),
    skipped: [...skips.entries()].map(([why, symbols]) => ({ why, symbols: symbols.sort() })),
    candleTime: until,
    window: opts.window,
    source: source || 'no data',
  };
}

/** "binance BTC/USDT has no 5m record (recorded: 1h)" → "no 5m record" — the footnote groups by reason */
function shortReason(message: string, timeframe: string): string {
  if (/has no \S+ record/.test(message)) return `no ${timeframe} record`;
  if (/only \d+ candles on record|no candles/.test(message)) return 'not enough candles';
  if (/stale/.test(message)) return 'stale data';
  if (/record starts/.test(message)) return 'record starts later';
  return message.replace(/^.*?: /, '').slice(0, 80);
}

function quotesOf(markets: readonly MarketInfo[]): string {
  const n = new Map<string, number>();
  for (const m of markets) n.set(m.quote, (n.get(m.quote) ?? 0) + 1);
  return [...n.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([q, k]) => `${q} ${k}`)
    .join(', ') || 'none';
}


async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(width, items.length)) }, worker));
}
