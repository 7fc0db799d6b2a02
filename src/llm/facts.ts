import { z } from 'zod';

/**
 * What a summary is about. Structured so the output check can be exact: a number may appear in
 * the text only if it is in `numbers` (or written in a trusted `text` label), a symbol only if it
 * is in `symbols` (or a `text` label). `quoted` is untrusted chat text: sent as data, never
 * allowed as a source of numbers or symbols.
 */
export interface Facts {
  /** every number the summary may state, by name: price, changePct, "BTC/USDT.pnl", "reasons.1.value" */
  numbers: Record<string, number>;
  /** the market symbols and currencies the summary is about: "BTC/USDT", "ETH" */
  symbols: string[];
  /** trusted labels written by code: signal "buy", regime "trending", window "24h", "reasons.1" */
  text?: Record<string, string>;
  /** untrusted text from chat (a question, a note): quoted data only */
  quoted?: Record<string, string>;
}

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/:-]{0,80}$/, 'a fact name like "price" or "BTC/USDT.pnl"');

export const factsSchema = z
  .object({
    // Honesty rule: a missing price is an error the caller shows, never NaN or Infinity sent on.
    numbers: z.record(name, z.number().finite()),
    symbols: z.array(z.string().regex(/^[A-Za-z0-9]{1,20}([/-][A-Za-z0-9]{1,20})?(:[A-Za-z0-9]{1,20})?$/, 'a symbol like "BTC/USDT" or "ETH"')).max(200),
    text: z.record(name, z.string().max(2_000)).optional(),
    quoted: z.record(name, z.string().max(4_000)).optional(),
  })
  .strict();

/** The list entries `prefix.1`, `prefix.2`, … present in text, in numeric order. */
export function listKeys(facts: Facts, prefix: string): string[] {
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)$`);
  return Object.keys(facts.text ?? {})
    .map((k) => ({ k, n: Number(re.exec(k)?.[1] ?? Number.NaN) }))
    .filter((x) => Number.isInteger(x.n))
    .sort((a, b) => a.n - b.n)
    .map((x) => x.k);
}
