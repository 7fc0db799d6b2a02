import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_DETECTOR, WhaleDetector, type WhaleEvent } from '../../src/whales/detector.js';
import { sharedDataDir } from './recorded.js';

/** One recorded trade, read plainly from the file (independent of the product's parsers); side 1 buy, −1 sell, 0 unknown. */
export interface RecordedTrade {
  time: number;
  id: string;
  side: number;
  price: number;
  amount: number;
  cost: number;
}

/**
 * A trades file of ../shared/data/trades. Binance files carry `timestamp,id,side,price,amount,cost`;
 * Kraken's `timestamp,price,amount` has no id or side: the id is the row number (`idWidth` pads it
 * the way the fake Kraken does) and the side is unknown.
 */
export function recordedTrades(file: string, opts: { idWidth?: number } = {}): RecordedTrade[] {
  const lines = readFileSync(path.join(sharedDataDir(), 'trades', file), 'utf8').trim().split('\n');
  const header = lines.shift();
  return lines.map((l, i) => {
    const f = l.split(',');
    if (header === 'timestamp,price,amount') {
      const [t, p, a] = f.map(Number) as [number, number, number];
      return { time: t, id: String(i + 1).padStart(opts.idWidth ?? 0, '0'), side: 0, price: p, amount: a, cost: p * a };
    }
    const [t, id, side, price, amount, cost] = f;
    return { time: Number(t), id: id as string, side: side === 'buy' ? 1 : side === 'sell' ? -1 : 0, price: Number(price), amount: Number(amount), cost: Number(cost) };
  });
}

/** The reference: one uninterrupted detector over the whole file (pure library, default rules). */
export function referenceEvents(exchange: string, symbol: string, rows: readonly RecordedTrade[], absolute: number | null): WhaleEvent[] {
  const cols = {
    time: Float64Array.from(rows, (r) => r.time),
    id: rows.map((r) => r.id),
    side: Int8Array.from(rows, (r) => r.side),
    price: Float64Array.from(rows, (r) => r.price),
    amount: Float64Array.from(rows, (r) => r.amount),
    cost: Float64Array.from(rows, (r) => r.cost),
    length: rows.length,
  };
  const d = new WhaleDetector(exchange, symbol, { ...DEFAULT_DETECTOR, absolute });
  return d.flush(d.process(cols, []));
}
