/** Numbers and times as the paper broker writes them into reasons and bases (read by people in chat). */

// Built once: toLocaleString builds a formatter on every call, which was a quarter of the paper broker's time.
const TWO = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const SIG8 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 8, useGrouping: false });
const SIG6 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 6 });

/** ≥ 1000: two decimals with separators ("31,738.04"); below: up to 8 significant digits ("0.5", "0.00012345"). */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.abs(n) >= 1000 ? TWO.format(n) : SIG8.format(n);
}

/** a quote-currency amount: two decimals with separators ("1,000.00", "450.42"); below 1, 6 significant digits */
export function fmtMoney(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.abs(n) >= 1 || n === 0 ? TWO.format(n) : SIG6.format(n);
}

/** basis points with one decimal ("3.1") */
export function fmtBps(bps: number): string {
  return (Math.round(bps * 10) / 10).toFixed(1);
}

/** "2021-07-17T21:05:00Z": the ISO time without milliseconds */
export function isoTime(t: number): string {
  return new Date(t).toISOString().replace('.000Z', 'Z');
}

/**
 * a − b, snapped to exactly 0 when the difference is float noise relative to the operands, so
 * that selling everything leaves 0 (not 1e-17) and the position disappears from positions().
 */
export function sub(a: number, b: number): number {
  const r = a - b;
  return Math.abs(r) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) ? 0 : r;
}
