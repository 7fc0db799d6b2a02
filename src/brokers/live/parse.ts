import { z } from 'zod';
import { LiveBrokerError } from './errors.js';

/**
 * What ccxt hands back, validated before the broker believes it. ccxt's unified structures
 * leave unknown fields `undefined`, hence the nullish; a required field missing (an order
 * without an id, a trade without a price) is bad data, never guessed at.
 */

const num = z.number().finite();
const opt = num.nullish();

export const ccxtFeeSchema = z.object({ cost: opt, currency: z.string().nullish() });

export const ccxtTradeSchema = z.object({
  id: z.union([z.string(), z.number()]).nullish(),
  order: z.union([z.string(), z.number()]).nullish(),
  timestamp: z.number().int().nullish(),
  symbol: z.string().nullish(),
  side: z.enum(['buy', 'sell']).nullish(),
  price: num.positive(),
  amount: num.positive(),
  cost: opt,
  takerOrMaker: z.enum(['taker', 'maker']).nullish(),
  fee: ccxtFeeSchema.nullish(),
});
export type CcxtTrade = z.output<typeof ccxtTradeSchema>;

export const ccxtOrderSchema = z.object({
  id: z.union([z.string().min(1), z.number()]).transform(String),
  clientOrderId: z.string().nullish(),
  timestamp: z.number().int().nullish(),
  lastTradeTimestamp: z.number().int().nullish(),
  status: z.enum(['open', 'closed', 'canceled', 'expired', 'rejected']).nullish(),
  symbol: z.string().min(1),
  type: z.string().nullish(),
  side: z.enum(['buy', 'sell']).nullish(),
  price: opt,
  average: opt,
  amount: opt,
  filled: num.nonnegative().nullish(),
  remaining: opt,
  cost: opt,
  trades: z.array(ccxtTradeSchema).nullish(),
  fee: ccxtFeeSchema.nullish(),
});
export type CcxtOrder = z.output<typeof ccxtOrderSchema>;

const amounts = z.record(z.string(), opt);
export const ccxtBalanceSchema = z.object({ free: amounts, used: amounts, total: amounts });

export const ccxtMarketSchema = z.object({
  symbol: z.string(),
  base: z.string(),
  quote: z.string(),
  spot: z.boolean().nullish(),
  active: z.boolean().nullish(),
  taker: opt,
  maker: opt,
});
export type CcxtMarket = z.output<typeof ccxtMarketSchema>;

function issues(e: z.ZodError): string {
  return e.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** `raw` as T, or a bad-data error naming what it was and what is wrong with it */
export function validate<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new LiveBrokerError('bad-data', `${what} is malformed (${issues(r.error)}) — not using it`);
  return r.data;
}
