import { readNumber, readQuantity, UserError } from '../../src/kernel/index.js';

/** What a trader typed as the size of an order. */
export type SizeSpec =
  | { kind: 'base'; amount: number }
  | { kind: 'quote'; amount: number; currency: string }
  | { kind: 'risk'; pct: number };

/**
 * `0.01` or `0.01btc` → base amount; `500usdt` (the market's quote) → quote amount;
 * `1%` → risk percent of equity (sized by the risk plugin). Anything else is a clear error.
 */
export function parseSize(text: string, base: string, quote: string): SizeSpec {
  const q = readQuantity(text);
  if (q === undefined || q.value <= 0) throw new UserError(`"${text}" is not a size: use an amount like 0.01, 0.01${base.toLowerCase()}, 500${quote.toLowerCase()} or 1%.`);
  if (q.unit === null || q.unit === base.toLowerCase()) return { kind: 'base', amount: q.value };
  if (q.unit === quote.toLowerCase()) return { kind: 'quote', amount: q.value, currency: quote };
  if (q.unit === '%') {
    if (q.value > 100) throw new UserError(`risk ${q.value}% is more than everything; use a percentage of equity like 1%.`);
    return { kind: 'risk', pct: q.value };
  }
  throw new UserError(`"${q.unit}" is neither ${base} nor ${quote}: size ${base}/${quote} in ${base.toLowerCase()}, ${quote.toLowerCase()} or % of equity.`);
}

/** `42000` → 42000; `market` or `-` → undefined (a market order); anything else is an error */
export function parsePrice(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim().toLowerCase();
  if (t === 'market' || t === '-' || t === 'mkt') return undefined;
  const n = readNumber(t.replace(/^\$/, ''));
  if (n === undefined || n <= 0) throw new UserError(`${what} "${text}" is not a price above zero (or "market").`);
  return n;
}
