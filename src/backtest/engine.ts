import { candleSlippageBps, type SlippageModel } from '../brokers/paper/fill-model.js';
import type { OhlcvColumns } from '../market/types.js';

/**
 * The backtest engine: candle-driven, long-only (spot, like the paper broker), pure and
 * synchronous. One loop over the candles of the test window; per candle i:
 *
 *   1. at i's open: the order decided at the close of i−1 fills at open[i], moved against the
 *      taker by the paper broker's candle slippage model on the last closed candle (i−1), plus
 *      the taker fee;
 *   2. during i: with a position, the stop-loss / trailing stop (sell stops) and the take-profit
 *      are checked against i's low and high (both in one candle: the stop is assumed first —
 *      the worse case); a stop fills at its level, or at the open when the candle opened through
 *      it; every exit is a taker fill with slippage and fee;
 *   3. at i's close: equity = cash + quantity × close[i], and the strategy's decision for i
 *      (which read candles ≤ i only) becomes an order for the open of the next candle.
 *
 * After a stop or take-profit exit the strategy must say "flat" once before it may enter
 * again (a long signal that is still on does not re-buy the next candle). A position still
 * open after the last candle is sold at its close (reason "end"), so the final equity is cash.
 * Nothing here reads a candle after the one being processed.
 */

/** what a strategy says at a candle's close */
export const LONG = 1;
export const FLAT = 0;
/** not enough data (warm-up, or the warm-up after a gap): keep whatever is held */
export const NO_DECISION = -1;

export interface EngineCandles extends OhlcvColumns {
  readonly time: Float64Array;
  /** the candle length; without it, taken from the neighbouring candles */
  readonly timeframeMs?: number;
}

export type Sizing =
  /** this share of the equity (cash, since positions are only opened from flat), fee included; 1 = all in */
  | { kind: 'fraction'; fraction: number }
  /** this much quote per entry, fee included (capped at the cash there is) */
  | { kind: 'fixed'; amount: number };

export interface Exits {
  /** sell when the price falls this fraction below the entry fill price (0.05 = 5 %) */
  stopLoss: number | null;
  /** sell when the price rises this fraction above the entry fill price */
  takeProfit: number | null;
  /** sell when the price falls this fraction below the highest price since entry */
  trailingStop: number | null;
}

export interface EngineSettings {
  initialCash: number;
  sizing: Sizing;
  /** taker fee as a fraction of the notional (0.001 = 0.1 %) */
  feeRate: number;
  slippage: SlippageModel;
  exits: Exits;
}

export type ExitReason = 'signal' | 'stop-loss' | 'take-profit' | 'trailing-stop' | 'end';

export interface Trade {
  entryIndex: number;
  exitIndex: number;
  entryTime: number;
  /** when the exit filled: the open of the exit candle for signal exits, its close for "end", within it for stops (its open time is given) */
  exitTime: number;
  quantity: number;
  /** fill prices, slippage included */
  entryPrice: number;
  exitPrice: number;
  /** the prices the fills started from (an open, a stop level, a close) */
  entryReference: number;
  exitReference: number;
  /** quote paid for the quantity (before the fee) and received for it (before the fee) */
  entryNotional: number;
  exitValue: number;
  entryFee: number;
  exitFee: number;
  /** exitValue − entryNotional */
  grossPnl: number;
  fees: number;
  /** grossPnl − fees */
  netPnl: number;
  /** netPnl / (entryNotional + entryFee) */
  netReturn: number;
  /** quote lost to slippage on both fills (already inside the prices) */
  slippageCost: number;
  reason: ExitReason;
}

export interface EngineResult {
  /** candle indices [start, end) of the run */
  start: number;
  end: number;
  initialCash: number;
  /** equity at each candle's close (the last one after the end-of-test sale), length end − start */
  equity: Float64Array;
  /** 1 where a position was held during the candle (after its open's fill) */
  held: Uint8Array;
  trades: Trade[];
  finalEquity: number;
}

export interface Fill {
  price: number;
  quantity: number;
  /** quote paid (buy) or received (sell), before the fee */
  notional: number;
  fee: number;
  slippageBps: number;
}

/**
 * A taker buy spending `budget` quote in all (fee included) at `reference`, slippage from the
 * paper broker's model on the last closed candle (its close and volume).
 */
export function buyFill(budget: number, reference: number, lastClose: number, lastVolume: number, feeRate: number, model: SlippageModel): Fill {
  const notional = budget / (1 + feeRate);
  const bps = candleSlippageBps(model, notional, { close: lastClose, volume: lastVolume });
  const price = reference * (1 + bps / 10_000);
  return { price, quantity: notional / price, notional, fee: notional * feeRate, slippageBps: bps };
}

/** A taker sell of `quantity` at `reference`, slippage as for buyFill. */
export function sellFill(quantity: number, reference: number, lastClose: number, lastVolume: number, feeRate: number, model: SlippageModel): Fill {
  const bps = candleSlippageBps(model, quantity * reference, { close: lastClose, volume: lastVolume });
  const price = reference * (1 - bps / 10_000);
  const notional = quantity * price;
  return { price, quantity, notional, fee: notional * feeRate, slippageBps: bps };
}

export function checkSettings(s: EngineSettings): void {
  const bad = (what: string): never => {
    throw new RangeError(`backtest settings: ${what}`);
  };
  if (!(s.initialCash > 0) || !Number.isFinite(s.initialCash)) bad(`initial cash must be above zero, got ${s.initialCash}`);
  if (!(s.feeRate >= 0 && s.feeRate < 1)) bad(`fee rate must be in [0, 1), got ${s.feeRate}`);
  if (s.sizing.kind === 'fraction' && !(s.sizing.fraction > 0 && s.sizing.fraction <= 1)) bad(`fraction must be in (0, 1], got ${s.sizing.fraction}`);
  if (s.sizing.kind === 'fixed' && !(s.sizing.amount > 0 && Number.isFinite(s.sizing.amount))) bad(`fixed amount must be above zero, got ${s.sizing.amount}`);
  for (const [k, v] of Object.entries(s.exits)) {
    if (v !== null && !(v > 0 && (k === 'takeProfit' ? Number.isFinite(v) : v < 1))) bad(`${k} must be a fraction above zero${k === 'takeProfit' ? '' : ' and below 1'}, got ${v}`);
  }
}

const NONE = 0;
const BUY = 1;
const SELL = 2;

/**
 * Runs `decisions` (one per candle of `c`: LONG, FLAT or NO_DECISION) over candles [start, end).
 * Decisions before `start` are ignored: the run starts flat with `initialCash`.
 */
export function runEngine(c: EngineCandles, decisions: Int8Array, s: EngineSettings, start = 0, end = c.length): EngineResult {
  if (decisions.length !== c.length) throw new RangeError(`decisions: ${decisions.length} for ${c.length} candles`);
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= c.length && start < end)) {
    throw new RangeError(`candle range [${start}, ${end}) outside 0..${c.length}`);
  }
  checkSettings(s);
  const { time, open, high, low, close, volume } = c;
  const n = end - start;
  const equity = new Float64Array(n);
  const held = new Uint8Array(n);
  const trades: Trade[] = [];
  const fee = s.feeRate;
  const model = s.slippage;
  const sl = s.exits.stopLoss;
  const tp = s.exits.takeProfit;
  const tr = s.exits.trailingStop;
  const fraction = s.sizing.kind === 'fraction' ? s.sizing.fraction : 0;
  const fixed = s.sizing.kind === 'fixed' ? s.sizing.amount : 0;

  let cash = s.initialCash;
  let qty = 0;
  // the open position
  let eIndex = 0;
  let ePrice = 0;
  let eRef = 0;
  let eNotional = 0;
  let eFee = 0;
  let peak = 0;
  let pending = NONE;
  let armed = true;

  const exit = (reference: number, ref: number, i: number, t: number, reason: ExitReason): void => {
    const f = sellFill(qty, reference, close[ref] as number, volume[ref] as number, fee, model);
    cash += f.notional - f.fee;
    const gross = f.notional - eNotional;
    const fees = eFee + f.fee;
    trades.push({
      entryIndex: eIndex,
      exitIndex: i,
      entryTime: time[eIndex] as number,
      exitTime: t,
      quantity: qty,
      entryPrice: ePrice,
      exitPrice: f.price,
      entryReference: eRef,
      exitReference: reference,
      entryNotional: eNotional,
      exitValue: f.notional,
      entryFee: eFee,
      exitFee: f.fee,
      grossPnl: gross,
      fees,
      netPnl: gross - fees,
      netReturn: (gross - fees) / (eNotional + eFee),
      slippageCost: qty * (ePrice - eRef) + qty * (reference - f.price),
      reason,
    });
    qty = 0;
  };

  for (let i = start; i < end; i++) {
    const k = i - start;
    const o = open[i] as number;
    if (pending === BUY) {
      const budget = fraction > 0 ? cash * fraction : Math.min(fixed, cash);
      if (budget > 0) {
        const f = buyFill(budget, o, close[i - 1] as number, volume[i - 1] as number, fee, model);
        cash -= f.notional + f.fee;
        qty = f.quantity;
        eIndex = i;
        ePrice = f.price;
        eRef = o;
        eNotional = f.notional;
        eFee = f.fee;
        peak = f.price;
      }
    } else if (pending === SELL) {
      exit(o, i - 1, i, time[i] as number, 'signal');
    }
    pending = NONE;

    if (qty > 0) {
      held[k] = 1;
      let stop = Number.NEGATIVE_INFINITY;
      let why: ExitReason = 'stop-loss';
      if (sl !== null) stop = ePrice * (1 - sl);
      if (tr !== null) {
        const t = peak * (1 - tr);
        if (t > stop) {
          stop = t;
          why = 'trailing-stop';
        }
      }
      const h = high[i] as number;
      if ((low[i] as number) <= stop) {
        exit(o < stop ? o : stop, i - 1, i, time[i] as number, why);
        armed = false;
      } else if (tp !== null && h >= ePrice * (1 + tp)) {
        const level = ePrice * (1 + tp);
        exit(o > level ? o : level, i - 1, i, time[i] as number, 'take-profit');
        armed = false;
      } else if (h > peak) {
        peak = h;
      }
    }

    if (i < end - 1) {
      const d = decisions[i];
      if (d === LONG) {
        if (qty === 0 && armed) pending = BUY;
      } else if (d === FLAT) {
        armed = true;
        if (qty > 0) pending = SELL;
      }
    }
    equity[k] = cash + qty * (close[i] as number);
  }
  if (qty > 0) {
    const last = end - 1;
    exit(close[last] as number, last, last, (time[last] as number) + timeframeOf(c, last), 'end');
    equity[n - 1] = cash;
  }
  return { start, end, initialCash: s.initialCash, equity, held, trades, finalEquity: equity[n - 1] as number };
}

/** the candle's length: the series' timeframe, else from its neighbours */
function timeframeOf(c: EngineCandles, i: number): number {
  if (c.timeframeMs !== undefined) return c.timeframeMs;
  const t = c.time;
  if (i > 0) return (t[i] as number) - (t[i - 1] as number);
  if (c.length > 1) return (t[1] as number) - (t[0] as number);
  return 0;
}

/**
 * Buy and hold on the same candles with the same costs: all of `initialCash` buys at the open of
 * the first candle (slippage on the candle before it when there is one, else on that candle),
 * sold at the last candle's close. Its equity is marked at every close like the strategy's.
 */
export function buyAndHold(c: EngineCandles, s: Pick<EngineSettings, 'initialCash' | 'feeRate' | 'slippage'>, start = 0, end = c.length): EngineResult {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= c.length && start < end)) {
    throw new RangeError(`candle range [${start}, ${end}) outside 0..${c.length}`);
  }
  const { time, open, close, volume } = c;
  const n = end - start;
  const equity = new Float64Array(n);
  const held = new Uint8Array(n).fill(1);
  const ref = start > 0 ? start - 1 : start;
  const o = open[start] as number;
  const b = buyFill(s.initialCash, o, close[ref] as number, volume[ref] as number, s.feeRate, s.slippage);
  const cash = s.initialCash - b.notional - b.fee;
  for (let i = start; i < end; i++) equity[i - start] = cash + b.quantity * (close[i] as number);
  const last = end - 1;
  const px = close[last] as number;
  const sf = sellFill(b.quantity, px, px, volume[last] as number, s.feeRate, s.slippage);
  const final = cash + sf.notional - sf.fee;
  equity[n - 1] = final;
  const gross = sf.notional - b.notional;
  const fees = b.fee + sf.fee;
  const trade: Trade = {
    entryIndex: start,
    exitIndex: last,
    entryTime: time[start] as number,
    exitTime: (time[last] as number) + timeframeOf(c, last),
    quantity: b.quantity,
    entryPrice: b.price,
    exitPrice: sf.price,
    entryReference: o,
    exitReference: px,
    entryNotional: b.notional,
    exitValue: sf.notional,
    entryFee: b.fee,
    exitFee: sf.fee,
    grossPnl: gross,
    fees,
    netPnl: gross - fees,
    netReturn: (gross - fees) / (b.notional + b.fee),
    slippageCost: b.quantity * (b.price - o) + b.quantity * (px - sf.price),
    reason: 'end',
  };
  return { start, end, initialCash: s.initialCash, equity, held, trades: [trade], finalEquity: final };
}
