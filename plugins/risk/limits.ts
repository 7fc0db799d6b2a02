import { closest, readDuration, readNumber, readQuantity } from '../../src/kernel/index.js';
import { LIMIT_NAMES, limitSchemas, type LimitName, type Limits } from './config.js';
import { bps, cash, money, pct } from './format.js';

/**
 * The limits as people see and change them: what each means, how `/limits set` reads a value,
 * how it is shown. Validation is the config's zod field (one source of truth for the bounds);
 * `rule` says the same bounds in words for the refusal message.
 */

type Kind = 'money' | 'count' | 'bps' | 'pct' | 'seconds' | 'minutes' | 'symbols';

interface LimitInfo {
  kind: Kind;
  summary: string;
  /** what a valid value is, in words ("a whole number from 1 to 10,000") */
  rule: (currency: string) => string;
}

export const LIMIT_INFO: Record<LimitName, LimitInfo> = {
  maxOrderNotional: { kind: 'money', summary: 'largest notional of one order', rule: (c) => `an amount above 0 in ${c}, e.g. 5000` },
  maxPositionNotional: { kind: 'money', summary: 'largest position in one market (with open orders on that side)', rule: (c) => `an amount above 0 in ${c}, e.g. 25000` },
  maxGrossExposure: { kind: 'money', summary: 'largest sum of |position| × price', rule: (c) => `an amount above 0 in ${c}, e.g. 50000` },
  maxOpenOrders: { kind: 'count', summary: 'most open orders, counting a new one', rule: () => 'a whole number from 1 to 10,000' },
  allowedSymbols: { kind: 'symbols', summary: 'markets that may be traded (empty: all)', rule: () => 'symbols separated by commas or spaces (btc, ETH/USDT, kraken:BTC/USD), or "all"' },
  maxSpreadBps: { kind: 'bps', summary: 'widest spread an order may meet', rule: () => 'basis points above 0 and at most 10,000, e.g. 25 or 25bps' },
  minBookDepthQuote: { kind: 'money', summary: 'least depth within 1 % on the order’s side', rule: (c) => `an amount of 0 or more in ${c}, e.g. 10000` },
  priceBandPct: { kind: 'pct', summary: 'how far a limit price may be from the last price', rule: () => 'a percentage above 0 and at most 100, e.g. 5 or 5%' },
  dailyLossLimit: { kind: 'money', summary: 'largest loss of the UTC day before trading halts', rule: (c) => `an amount above 0 in ${c}, e.g. 3000` },
  maxDrawdownPct: { kind: 'pct', summary: 'largest fall of equity from its peak before trading halts', rule: () => 'a percentage above 0 and at most 100, e.g. 10 or 10%' },
  staleDataSeconds: { kind: 'seconds', summary: 'oldest price traded on or held against', rule: () => 'whole seconds from 1 to 86,400, e.g. 300, 300s or 5m' },
  'brokerErrorRate.maxFailures': { kind: 'count', summary: 'most broker failures in the window before trading halts', rule: () => 'a whole number from 1 to 10,000' },
  'brokerErrorRate.windowMinutes': { kind: 'minutes', summary: 'window broker failures are counted in', rule: () => 'whole minutes from 1 to 1,440, e.g. 15, 15m or 1h' },
};

/** a limit's value as shown: "10,000.00 USDT", "50.0 bps", "5.00 %", "300 s", "BTC/USDT, ETH/USDT" */
export function formatLimit(name: LimitName, value: Limits[LimitName], currency: string): string {
  const kind = LIMIT_INFO[name].kind;
  if (Array.isArray(value)) return value.length === 0 ? 'all markets' : value.join(', ');
  switch (kind) {
    case 'money':
      return cash(value, currency);
    case 'bps':
      return bps(value);
    case 'pct':
      return pct(value);
    case 'seconds':
      return `${value} s`;
    case 'minutes':
      return `${value} min`;
    default:
      return money(value).replace(/\.00$/, '');
  }
}

/** "maxordernotional" → maxOrderNotional; otherwise the closest names for "did you mean" */
export function findLimit(text: string): { name: LimitName } | { suggestions: string[] } {
  const hit = LIMIT_NAMES.find((n) => n.toLowerCase() === text.toLowerCase());
  if (hit !== undefined) return { name: hit };
  // "maxFailures" alone should find "brokerErrorRate.maxFailures"
  const tail = LIMIT_NAMES.find((n) => n.includes('.') && n.split('.')[1]?.toLowerCase() === text.toLowerCase());
  if (tail !== undefined) return { name: tail };
  return { suggestions: closest(text, LIMIT_NAMES, { max: 2, maxDistance: 4 }) };
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** resolves what a person typed ("btc", "kraken:eth") to "BTC/USDT" / "kraken:ETH/USD", or throws with the reason */
export type SymbolResolver = (exchange: string | undefined, symbol: string) => Promise<string>;

/**
 * Reads `/limits set <name> <value>`'s value: the units people type (5000, 5,000usdt, 25bps, 5%,
 * 90s, 2m, 1h) to the limit's number, then the config's own schema decides if it is allowed.
 */
export async function parseLimitValue(name: LimitName, text: string, currency: string, resolve: SymbolResolver): Promise<Parsed<Limits[LimitName]>> {
  const info = LIMIT_INFO[name];
  const bad = (why?: string): Parsed<never> => ({ ok: false, message: `${name} must be ${info.rule(currency)}, got "${text}"${why ? ` (${why})` : ''}` });
  const words = text.trim();
  let candidate: unknown;
  switch (info.kind) {
    case 'money': {
      const q = readQuantity(words);
      if (q === undefined) return bad();
      if (q.unit !== null && q.unit !== currency.toLowerCase()) return bad(`limits are in ${currency}, not ${q.unit.toUpperCase()}`);
      candidate = q.value;
      break;
    }
    case 'count':
      candidate = readNumber(words);
      break;
    case 'bps': {
      const q = readQuantity(words);
      if (q === undefined || (q.unit !== null && q.unit !== 'bps' && q.unit !== 'bp')) return bad();
      candidate = q.value;
      break;
    }
    case 'pct': {
      const q = readQuantity(words);
      if (q === undefined || (q.unit !== null && q.unit !== '%')) return bad();
      candidate = q.value;
      break;
    }
    case 'seconds':
    case 'minutes': {
      const unitMs = info.kind === 'seconds' ? 1000 : 60_000;
      const bare = readNumber(words);
      const ms = bare !== undefined ? bare * unitMs : readDuration(words);
      candidate = ms === undefined ? undefined : ms / unitMs;
      break;
    }
    case 'symbols': {
      if (/^(all|\*)$/i.test(words)) {
        candidate = [];
        break;
      }
      const list: string[] = [];
      for (const w of words.split(/[\s,]+/).filter((x) => x.length > 0)) {
        const m = /^(?:([a-z][a-z0-9]*):)?(.+)$/i.exec(w);
        const exchange = m?.[1]?.toLowerCase();
        try {
          const sym = await resolve(exchange, m?.[2] ?? w);
          if (!list.includes(sym)) list.push(sym);
        } catch (err) {
          return { ok: false, message: `allowedSymbols: ${err instanceof Error ? err.message : String(err)}` };
        }
      }
      if (list.length === 0) return bad();
      candidate = list;
      break;
    }
  }
  if (candidate === undefined) return bad();
  const r = limitSchemas[name].safeParse(candidate);
  return r.success ? { ok: true, value: r.data } : bad();
}

/**
 * Config limits with the stored overrides on top. An override that no longer passes the schema
 * (the config's bounds changed, or the store was edited) is dropped with a note, never half-used.
 */
export function applyOverrides(base: Limits, stored: unknown): { limits: Limits; overridden: LimitName[]; dropped: string[] } {
  const limits: Limits = { ...base, allowedSymbols: [...base.allowedSymbols] };
  const overridden: LimitName[] = [];
  const dropped: string[] = [];
  if (stored === null || typeof stored !== 'object') return { limits, overridden, dropped };
  for (const [k, v] of Object.entries(stored as Record<string, unknown>)) {
    const name = LIMIT_NAMES.find((n) => n === k);
    if (name === undefined) {
      dropped.push(`${k}: not a limit`);
      continue;
    }
    const r = limitSchemas[name].safeParse(v);
    if (!r.success) {
      dropped.push(`${k}: stored value ${JSON.stringify(v)} is not valid`);
      continue;
    }
    (limits as Record<LimitName, unknown>)[name] = r.data;
    overridden.push(name);
  }
  return { limits, overridden, dropped };
}
