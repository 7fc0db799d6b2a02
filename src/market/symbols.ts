import { closest } from '../kernel/fuzzy.js';
import { UnknownSymbolError } from './errors.js';

/** Quotes tried, longest first, when a pasted pair has no separator ("btcusdt"). */
const QUOTES = ['USDT', 'USDC', 'BUSD', 'FDUSD', 'TUSD', 'USD', 'EUR', 'GBP', 'BTC', 'ETH', 'BNB'];

/**
 * A symbol as a trader types it → the exchange's unified symbol:
 * `btc` → `BTC/<default quote>`, `eth/usdt` / `ETH-USDT` / `ethusdt` → `ETH/USDT`.
 * Unknown → UnknownSymbolError with the closest markets (by symbol, then by base).
 */
export function resolveSymbol(exchange: string, input: string, known: ReadonlySet<string>, defaultQuote: string): string {
  const raw = input.trim().toUpperCase().replace('-', '/');
  const candidates: string[] = [];
  if (raw.includes('/')) candidates.push(raw);
  else {
    candidates.push(`${raw}/${defaultQuote}`);
    for (const q of QUOTES) if (raw.length > q.length && raw.endsWith(q)) candidates.push(`${raw.slice(0, -q.length)}/${q}`);
  }
  for (const c of candidates) if (known.has(c)) return c;

  const wanted = candidates[0] as string;
  // the base was right but not the quote ("btcusd" on a USDT venue): offer that base's markets
  const bases = new Set(candidates.map((c) => c.split('/')[0] as string));
  let near = [...known]
    .filter((s) => bases.has(s.split('/')[0] as string))
    .sort((a, b) => Number(b.endsWith(`/${defaultQuote}`)) - Number(a.endsWith(`/${defaultQuote}`)) || a.localeCompare(b))
    .slice(0, 3);
  if (near.length === 0) near = closest(wanted, known, { max: 3 });
  if (near.length === 0) {
    // a misspelt base ("btx") is better matched on bases than on whole symbols
    const base = wanted.split('/')[0] as string;
    const bases = new Map<string, string>();
    for (const s of known) {
      const b = s.split('/')[0] as string;
      if (!bases.has(b) || s.endsWith(`/${defaultQuote}`)) bases.set(b, s);
    }
    near = closest(base, bases.keys(), { max: 3 }).map((b) => bases.get(b) as string);
  }
  throw new UnknownSymbolError(exchange, input, near);
}
