import { block, utcAt, type Block, type Reply } from '../../src/kernel/index.js';
import type { RuleResult } from './rules.js';
import type { ScanOutcome } from './scan.js';
import type { SignalResult, Strategy } from './strategies.js';

/** Numbers as a trader reads them, and the replies of the signals commands. */

const formats = new Map<number, Intl.NumberFormat>();
function grouped(v: number, digits: number): string {
  let f = formats.get(digits);
  if (f === undefined) {
    f = new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
    formats.set(digits, f);
  }
  return f.format(v);
}

const COMPACT: Array<[number, string]> = [
  [1e12, 'T'],
  [1e9, 'B'],
  [1e6, 'M'],
];

/**
 * A value with digits that suit its size: 31,234.57 · 1.2345 · 0.0003412 · 12.3M. With `digits`,
 * exactly that many decimals (thousands grouped). NaN or ±Infinity: "—" (not defined), never 0.
 */
export function fmtNum(v: number, digits?: number): string {
  if (!Number.isFinite(v)) return '—';
  if (digits !== undefined) return grouped(v, digits);
  const a = Math.abs(v);
  if (a === 0) return '0';
  for (const [size, unit] of COMPACT) if (a >= size) return `${grouped(v / size, 2)}${unit}`;
  if (a >= 1000) return grouped(v, 2);
  if (a >= 1) return grouped(v, 4);
  return Number(v.toPrecision(4)).toString();
}

/** "+1.23", "-0.50": the sign always shown */
export function fmtSigned(v: number, digits?: number): string {
  const s = fmtNum(v, digits);
  return Number.isFinite(v) && v >= 0 && !s.startsWith('+') ? `+${s}` : s;
}

export function fmtPct(v: number, digits = 2): string {
  return `${fmtNum(v, digits)}%`;
}

export interface SeriesMeta {
  exchange: string;
  symbol: string;
  timeframe: string;
  timeframeMs: number;
  source: 'live' | 'replay';
  /** open time of the candle the answer is for */
  candleTime: number;
  close: number;
  /** contiguous candles used, and the open time of the first */
  candles: number;
  windowStart: number;
}

function sourceText(m: SeriesMeta): string {
  return `${m.exchange} ${m.source === 'replay' ? 'recorded' : 'live'} candles, ${m.candles} contiguous`;
}

function candleText(m: SeriesMeta): string {
  return `${utcAt(m.candleTime)} ${m.timeframe} candle (closed ${utcAt(m.candleTime + m.timeframeMs).slice(11)})`;
}

const vote = (r: RuleResult): string => fmtSigned(r.vote, 2);

export function signalReply(m: SeriesMeta, s: SignalResult, strategy: Strategy): Reply {
  const head = `${m.symbol} ${m.timeframe} · ${s.strategy}: ${s.direction.toUpperCase()}  score ${fmtSigned(s.score, 2)}  confidence ${fmtNum(s.confidence, 2)}`;
  const blocks: Block[] = [
    block.text(head),
    block.kv([
      ['direction', `${s.direction} (|score| ≥ ${strategy.threshold} gives a direction)`],
      ['score', `${fmtSigned(s.score, 3)} (weighted mean of the votes, −1…+1)`],
      ['confidence', `${fmtNum(s.confidence, 2)} = agreement ${fmtNum(s.agreement, 2)} × data ${fmtNum(s.sufficiency, 2)}`],
      ['candle', candleText(m)],
      ['close', fmtNum(m.close)],
      ['source', sourceText(m)],
    ]),
  ];
  if (s.reasons.length > 0) {
    blocks.push(
      block.table(
        ['rule', 'family', 'vote', 'weight', 'why'],
        s.reasons.map((r) => [r.rule, r.family, vote(r), fmtNum(r.weight, 2), r.reason]),
        { title: `rules that fired (${s.reasons.length} of ${s.results.length})`, align: ['left', 'left', 'right', 'right', 'left'] },
      ),
    );
  } else {
    blocks.push(block.text(`no rule of ${s.strategy} fired on this candle`));
  }
  const quietOnes = s.results.filter((r) => !r.fired);
  if (quietOnes.length > 0) blocks.push(block.text(`did not fire: ${quietOnes.map((r) => `${r.rule} (${r.reason})`).join('; ')}`));
  if (s.sufficiency < 1) {
    blocks.push(
      block.text(
        `only ${m.candles} contiguous candles of the ${strategy.settle} this strategy wants for settled indicators: confidence is scaled down`,
        'warn',
      ),
    );
  }
  return { blocks };
}

export function indicatorsReply(m: SeriesMeta, values: Array<[string, number]>): Reply {
  const rows = values.map(([name, v]) => [name, fmtNum(v)]);
  const undefinedCount = values.filter(([, v]) => !Number.isFinite(v)).length;
  const blocks: Block[] = [
    block.table(['indicator', 'value'], rows, { title: `${m.exchange} ${m.symbol} ${m.timeframe}: ${candleText(m)}, close ${fmtNum(m.close)}`, align: ['left', 'right'] }),
    block.text(
      `${sourceText(m)} from ${utcAt(m.windowStart)}. obv and vwap are running totals from that first candle: their changes carry the information, not their level.${
        undefinedCount > 0 ? ` — : not defined yet (${undefinedCount} need more candles than the window has).` : ''
      }`,
    ),
  ];
  return { blocks };
}

export function strategiesReply(strategies: Iterable<Strategy>, defaultName: string): Reply {
  const blocks: Block[] = [];
  for (const s of strategies) {
    blocks.push(
      block.table(
        ['rule', 'family', 'weight', 'what it checks'],
        s.rules.map((r) => [r.rule.id, r.rule.family, fmtNum(r.weight, 2), r.rule.describe(r.params)]),
        {
          title: `${s.name}${s.name === defaultName ? ' (default)' : ''}: ${s.description || 'no description'} — direction at |score| ≥ ${s.threshold}; ${s.settle} candles`,
          align: ['left', 'left', 'right', 'left'],
        },
      ),
    );
  }
  blocks.push(block.text('score = weighted mean of the rules\' votes (−1…+1); confidence = agreement of the rules that fired × data sufficiency. /signal <symbol> [timeframe] [strategy]'));
  return { blocks };
}

const MEASURE_HELP: Record<string, string> = {
  momentum: 'momentum = log return over 12 candles ÷ (σ of 1-candle log returns over 30 × √12): the move in units of its own volatility',
  breakout: 'breakout = (close − mid) ÷ (high − mid) of the previous 20 candles: ±1 at the 20-candle high/low, beyond ±1 a break',
  volume: 'volume = the candle\'s volume ÷ the average of the previous 20 candles',
};

export function scanReply(o: ScanOutcome): Reply {
  const rows = o.rows.map((r, k) => [
    String(k + 1),
    r.symbol,
    fmtNum(r.close),
    `${fmtSigned(r.roc, 2)}%`,
    fmtNum(r.rsi, 1),
    fmtSigned(r.momentum, 2),
    fmtSigned(r.breakout, 2),
    `${fmtNum(r.volumeRatio, 2)}×`,
  ]);
  const when = ` — candle ${utcAt(o.candleTime)}`;
  const blocks: Block[] = [
    block.table(['#', 'symbol', 'close', 'ROC(12)', 'RSI(14)', 'momentum', 'breakout', 'volume'], rows, {
      title: `${o.exchange} ${o.quote} ${o.timeframe}: top ${o.rows.length} of ${o.ranked} by ${o.by}${when}`,
      align: ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
    }),
    block.text(`${MEASURE_HELP[o.by] ?? o.by}; ranked ${o.by === 'volume' ? 'highest first' : 'by size, either direction'}. ${o.universe} ${o.quote} markets, ${o.window} contiguous candles each (${o.source}).`),
  ];
  const notes = o.skipped.map((s) => `${s.symbols.length} skipped: ${s.why} (${list(s.symbols)})`);
  if (notes.length > 0) blocks.push(block.text(`* ${notes.join('; ')}`, 'warn'));
  return { blocks };
}

function list(symbols: string[], max = 8): string {
  return symbols.length <= max ? symbols.join(', ') : `${symbols.slice(0, max).join(', ')} and ${symbols.length - max} more`;
}
