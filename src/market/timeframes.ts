/** ccxt timeframe strings ("1m", "5m", "1h", "4h", "1d", "1w") ↔ milliseconds. */
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export const TIMEFRAMES = ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d', '3d', '1w'] as const;

/** ms of a timeframe, or undefined when it is not one ("1M" months vary in length and are not supported) */
export function timeframeMs(tf: string): number | undefined {
  const m = /^(\d+)([smhdw])$/.exec(tf);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const unit = UNIT_MS[m[2]];
  const n = Number(m[1]);
  return unit === undefined || n <= 0 ? undefined : n * unit;
}
