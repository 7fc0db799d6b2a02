/**
 * Number formats for deterministic templates. Each shows a fact rounded to the precision it
 * prints, so template text always passes the same number check the model's text must pass.
 */

export const FORMATS = ['num', 'int', 'usd', 'pct', 'chg', 'signed'] as const;
export type NumberFormat = (typeof FORMATS)[number];

export function isNumberFormat(s: string): s is NumberFormat {
  return (FORMATS as readonly string[]).includes(s);
}

const cache = new Map<string, Intl.NumberFormat>();
function nf(key: string, opts: Intl.NumberFormatOptions): Intl.NumberFormat {
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat('en-US', opts);
    cache.set(key, f);
  }
  return f;
}

// Below 1 a price like 0.00001234 needs significant digits, not two decimals (which would print 0).
const plain = (x: number, sign: 'auto' | 'exceptZero'): string =>
  x !== 0 && Math.abs(x) < 1
    ? nf(`small-${sign}`, { maximumSignificantDigits: 6, signDisplay: sign }).format(x)
    : nf(`num-${sign}`, { maximumFractionDigits: 2, signDisplay: sign }).format(x);

export function formatNumber(x: number, format: NumberFormat): string {
  switch (format) {
    case 'num':
      return plain(x, 'auto');
    case 'signed':
      return plain(x, 'exceptZero');
    case 'int':
      return nf('int', { maximumFractionDigits: 0 }).format(x);
    case 'usd': {
      const abs = Math.abs(x);
      const body = abs !== 0 && abs < 1 ? plain(abs, 'auto') : nf('usd', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(abs);
      return `${x < 0 ? '-' : ''}$${body}`;
    }
    case 'pct':
      return `${nf('pct', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(x)}%`;
    case 'chg':
      return `${nf('chg', { minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: 'exceptZero' }).format(x)}%`;
    default: {
      const never: never = format;
      throw new Error(`unknown number format ${String(never)}`);
    }
  }
}
