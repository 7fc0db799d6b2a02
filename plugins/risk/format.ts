import { utcSecond } from '../../src/kernel/index.js';
/**
 * Number formatting for risk details. Every refusal and breach states its numbers, so they
 * must read the same everywhere: money with two decimals and thousands separators, base
 * amounts with enough significant digits to be exact for what a person typed.
 */

const money2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** 5000 → "5,000.00"; quote amounts (notional, PnL, equity) */
export function money(x: number): string {
  // -0.001 would print as "-0.00": a sign with nothing behind it
  const s = money2.format(x);
  return s === '-0.00' ? '0.00' : s;
}

/** 5000 USDT → "5,000.00 USDT" */
export function cash(x: number, currency: string): string {
  return `${money(x)} ${currency}`;
}

/** base amounts and prices: up to 8 significant digits, thousands separators, no trailing zeros */
export function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1000) return x.toLocaleString('en-US', { maximumFractionDigits: 2 });
  return Number(x.toPrecision(8)).toString();
}

/** 5.2 → "5.20 %" */
export function pct(x: number): string {
  return `${x.toFixed(2)} %`;
}

/** 12.345 → "12.3 bps" */
export function bps(x: number): string {
  return `${x.toFixed(1)} bps`;
}

/** ms → "2026-11-27 09:00:00 UTC" */
export function utc(t: number): string {
  return `${utcSecond(t)} UTC`;
}
