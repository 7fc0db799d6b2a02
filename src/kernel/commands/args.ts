import { z } from 'zod';

/**
 * Typed command arguments. Each argument is a zod schema from the raw token text to a value,
 * plus what usage and help need to say about it. Builders: `arg.string()`, `arg.number()`,
 * `arg.int()`, `arg.choice([...])`, `arg.quantity({ units })` (`100usdt`, `0.5%`),
 * `arg.percent()`, `arg.duration()`, `arg.symbol()`; modifiers `.optional()`, `.default(v)`,
 * `.describe(text)`, `.rest()`.
 */

export interface ArgOptions<T> {
  /** short type name for usage lines, e.g. "amount" or "1h|4h|1d" */
  readonly hint: string;
  readonly schema: z.ZodType<T, string>;
  readonly description?: string;
  readonly required: boolean;
  readonly defaultValue?: T;
  /** consumes every remaining positional word (free text) */
  readonly rest: boolean;
}

export class ArgSpec<T> {
  constructor(readonly options: ArgOptions<T>) {}

  optional(): ArgSpec<T | undefined> {
    return new ArgSpec<T | undefined>({ ...this.options, required: false } as ArgOptions<T | undefined>);
  }

  /** optional, with this value when omitted */
  default(value: T): ArgSpec<T> {
    return new ArgSpec<T>({ ...this.options, required: false, defaultValue: value });
  }

  describe(description: string): ArgSpec<T> {
    return new ArgSpec<T>({ ...this.options, description });
  }

  rest(): ArgSpec<T> {
    return new ArgSpec<T>({ ...this.options, rest: true });
  }

  hint(hint: string): ArgSpec<T> {
    return new ArgSpec<T>({ ...this.options, hint });
  }
}

export type ArgShape = Record<string, ArgSpec<unknown>>;
export type ArgsOf<A extends ArgShape> = { [K in keyof A]: A[K] extends ArgSpec<infer T> ? T : never };

function spec<T>(hint: string, schema: z.ZodType<T, string>): ArgSpec<T> {
  return new ArgSpec<T>({ hint, schema, required: true, rest: false });
}

const NUMBER = /^[+-]?(?:\d{1,3}(?:[,_]\d{3})+|\d+)?(?:\.\d+)?$/;

/** "1,000.5" / "1_000" / ".5" → number, or undefined when it is not a plain decimal */
export function readNumber(text: string): number | undefined {
  if (text === '' || text === '+' || text === '-' || text === '.' || !NUMBER.test(text)) return undefined;
  const n = Number(text.replace(/[,_]/g, ''));
  return Number.isFinite(n) ? n : undefined;
}

export interface Quantity {
  value: number;
  /** lower-case unit as written ("usdt", "btc", "%"), or null for a bare number */
  unit: string | null;
}

const QUANTITY = /^([+-]?[\d.,_]+)\s*(%|[a-zA-Z][a-zA-Z0-9]{0,11})?$/;

export function readQuantity(text: string): Quantity | undefined {
  const m = QUANTITY.exec(text.trim());
  if (!m || m[1] === undefined) return undefined;
  // "1e9" is scientific notation, not one of unit "e9": refuse rather than guess
  if (m[2] !== undefined && /^e\d+$/i.test(m[2])) return undefined;
  const value = readNumber(m[1]);
  if (value === undefined) return undefined;
  return { value, unit: m[2] === undefined ? null : m[2].toLowerCase() };
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function readDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/i.exec(text.trim());
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const unit = DURATION_UNITS[m[2].toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

function got(text: string): string {
  return text.length > 40 ? `"${text.slice(0, 37)}..."` : `"${text}"`;
}

export const arg = {
  string(opts: { min?: number; max?: number; pattern?: RegExp; patternHint?: string } = {}): ArgSpec<string> {
    const { min = 1, max = 500, pattern, patternHint } = opts;
    return spec(
      'text',
      z.string().transform((s, ctx) => {
        if (s.length < min) ctx.addIssue(`expected at least ${min} characters`);
        else if (s.length > max) ctx.addIssue(`expected at most ${max} characters, got ${s.length}`);
        else if (pattern && !pattern.test(s)) ctx.addIssue(`expected ${patternHint ?? `text matching ${pattern}`}, got ${got(s)}`);
        else return s;
        return z.NEVER;
      }),
    );
  },

  number(opts: { min?: number; max?: number; int?: boolean } = {}): ArgSpec<number> {
    const { min, max, int = false } = opts;
    return spec(
      int ? 'integer' : 'number',
      z.string().transform((s, ctx) => {
        const n = readNumber(s);
        if (n === undefined) ctx.addIssue(`expected ${int ? 'a whole number' : 'a number'}, got ${got(s)}`);
        else if (int && !Number.isInteger(n)) ctx.addIssue(`expected a whole number, got ${got(s)}`);
        else if (min !== undefined && n < min) ctx.addIssue(`expected at least ${min}, got ${n}`);
        else if (max !== undefined && n > max) ctx.addIssue(`expected at most ${max}, got ${n}`);
        else return n;
        return z.NEVER;
      }),
    );
  },

  int(opts: { min?: number; max?: number } = {}): ArgSpec<number> {
    return arg.number({ ...opts, int: true });
  },

  /** one of a fixed set of words, case-insensitive */
  choice<const C extends readonly [string, ...string[]]>(choices: C): ArgSpec<C[number]> {
    const lower = new Map(choices.map((c) => [c.toLowerCase(), c] as const));
    return spec(
      choices.join('|'),
      z.string().transform((s, ctx): C[number] => {
        const hit = lower.get(s.toLowerCase());
        if (hit !== undefined) return hit;
        ctx.addIssue(`expected one of ${choices.join(', ')}, got ${got(s)}`);
        return z.NEVER;
      }),
    );
  },

  /**
   * A number with a unit: `100usdt`, `0.25btc`, `0.5%`. `units` lists the accepted units
   * (lower-case; '%' for percent); `bare: true` also accepts a number without a unit.
   */
  quantity(opts: { units: readonly string[]; bare?: boolean; positive?: boolean }): ArgSpec<Quantity> {
    const units = opts.units.map((u) => u.toLowerCase());
    const example = units.length > 0 ? `100${units[0]}` : '100';
    return spec(
      'amount',
      z.string().transform((s, ctx) => {
        const q = readQuantity(s);
        if (q === undefined) ctx.addIssue(`expected an amount like ${example}, got ${got(s)}`);
        else if (q.unit === null && !opts.bare) ctx.addIssue(`expected a unit after ${q.value} (one of ${units.join(', ')})`);
        else if (q.unit !== null && !units.includes(q.unit)) ctx.addIssue(`unit "${q.unit}" is not accepted here (use ${units.join(', ')})`);
        else if ((opts.positive ?? true) && q.value <= 0) ctx.addIssue(`expected an amount above zero, got ${q.value}`);
        else return q;
        return z.NEVER;
      }),
    );
  },

  /** `0.5%` → 0.5 (percent points, not a fraction) */
  percent(opts: { min?: number; max?: number } = {}): ArgSpec<number> {
    const { min = 0, max = 100 } = opts;
    return spec(
      'percent',
      z.string().transform((s, ctx) => {
        const q = readQuantity(s);
        if (q === undefined || q.unit !== '%') ctx.addIssue(`expected a percentage like 0.5%, got ${got(s)}`);
        else if (q.value < min || q.value > max) ctx.addIssue(`expected between ${min}% and ${max}%, got ${q.value}%`);
        else return q.value;
        return z.NEVER;
      }),
    );
  },

  /** `90s`, `5m`, `2h`, `1d`, `1w` → milliseconds */
  duration(opts: { maxMs?: number } = {}): ArgSpec<number> {
    return spec(
      'duration',
      z.string().transform((s, ctx) => {
        const ms = readDuration(s);
        if (ms === undefined || ms <= 0) ctx.addIssue(`expected a duration like 30s, 5m, 2h or 1d, got ${got(s)}`);
        else if (opts.maxMs !== undefined && ms > opts.maxMs) ctx.addIssue(`expected at most ${opts.maxMs / 60_000} minutes`);
        else return ms;
        return z.NEVER;
      }),
    );
  },

  /** a market symbol as typed: `btc`, `BTC/USDT`, `eth-usd` → upper-case, '-' read as '/' */
  symbol(): ArgSpec<string> {
    return spec(
      'symbol',
      z.string().transform((s, ctx) => {
        if (/^[A-Za-z0-9]{1,20}(?:[/-][A-Za-z0-9]{1,20})?$/.test(s)) return s.toUpperCase().replace('-', '/');
        ctx.addIssue(`expected a symbol like BTC or BTC/USDT, got ${got(s)}`);
        return z.NEVER;
      }),
    );
  },
};
