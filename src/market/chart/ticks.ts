/**
 * Axis arithmetic for the candle chart: "nice" price ticks, number formatting that keeps
 * enough significant digits for tiny prices, and UTC-aligned time ticks whose labels switch
 * between hours, days, months and years depending on the span. Pure functions, no SVG here.
 */

export interface PriceTicks {
  /** axis domain (a little wider than the data) */
  min: number;
  max: number;
  step: number;
  /** tick values inside [min, max], ascending */
  values: number[];
  /** decimals that show every tick distinctly */
  decimals: number;
}

const NICE = [1, 2, 2.5, 5, 10];

/** 1, 2, 2.5 or 5 × 10^k nearest above `raw` */
export function niceStep(raw: number): number {
  const exp = Math.floor(Math.log10(raw));
  const base = 10 ** exp;
  for (const m of NICE) if (m * base >= raw * (1 - 1e-9)) return m * base;
  return 10 * base;
}

/** decimals needed to print multiples of `step` exactly (2.5e-8 → 9) */
export function stepDecimals(step: number): number {
  for (let d = 0; d <= 20; d++) {
    const scaled = step * 10 ** d;
    const r = Math.round(scaled);
    if (r >= 1 && Math.abs(scaled - r) < 1e-6 * scaled) return d;
  }
  return 20;
}

/**
 * 5–8 nice ticks over [lo, hi] padded by `pad` of the range on each side. A flat series
 * (lo == hi) gets a band of ±0.5 % around the price so it is drawn mid-panel with real ticks.
 */
export function priceTicks(lo: number, hi: number, pad = 0.06): PriceTicks {
  let a = lo;
  let b = hi;
  if (!(b > a)) {
    const half = Math.abs(a) > 0 ? Math.abs(a) * 0.005 : 1;
    a -= half;
    b += half;
  } else {
    const p = (b - a) * pad;
    a -= p;
    b += p;
  }
  const range = b - a;
  // try tick counts from 6 outward and keep the first nice step that yields 5–8 ticks
  let best: { step: number; values: number[] } | null = null;
  for (const target of [6, 7, 5, 8, 4, 9]) {
    const step = niceStep(range / target);
    const values = ticksIn(a, b, step);
    if (values.length >= 5 && values.length <= 8) {
      best = { step, values };
      break;
    }
    if (!best || Math.abs(values.length - 6) < Math.abs(best.values.length - 6)) best = { step, values };
  }
  const { step, values } = best as { step: number; values: number[] };
  return { min: a, max: b, step, values, decimals: stepDecimals(step) };
}

function ticksIn(a: number, b: number, step: number): number[] {
  const out: number[] = [];
  const first = Math.ceil(a / step - 1e-9);
  const last = Math.floor(b / step + 1e-9);
  for (let k = first; k <= last && out.length < 50; k++) out.push(Number((k * step).toPrecision(12)));
  return out;
}

/** 45123.5 → "45,123.50" with `decimals`; thousands separators on the integer part */
export function formatPrice(v: number, decimals: number): string {
  const d = Math.max(0, Math.min(20, decimals));
  const s = Math.abs(v).toFixed(d);
  const [int, frac] = s.split('.') as [string, string | undefined];
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${v < 0 && Number(s) !== 0 ? '-' : ''}${grouped}${frac !== undefined ? `.${frac}` : ''}`;
}

/** decimals the recorded prices actually carry (shortest round-trip form), capped at 12 */
export function recordedDecimals(values: ArrayLike<number>, from = 0): number {
  let d = 0;
  for (let i = Math.max(0, from); i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    const s = String(v);
    if (s.includes('e')) {
      // 1.234e-7 → mantissa decimals + exponent
      const [m, e] = s.split('e') as [string, string];
      const md = (m.split('.')[1] ?? '').length;
      d = Math.max(d, md - Number(e));
    } else {
      d = Math.max(d, (s.split('.')[1] ?? '').length);
    }
  }
  return Math.min(12, Math.max(0, d));
}

/** decimals that show `v` with `sig` significant digits (0 for large numbers) */
export function significantDecimals(v: number, sig: number): number {
  if (!(Math.abs(v) > 0) || !Number.isFinite(v)) return 0;
  return Math.max(0, Math.min(20, sig - 1 - Math.floor(Math.log10(Math.abs(v)))));
}

/** compact volume: 950, 12.3K, 4.56M, 7.8B */
export function formatCompact(v: number): string {
  const a = Math.abs(v);
  const units: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [u, s] of units) {
    if (a >= u) return `${trim((v / u).toPrecision(3))}${s}`;
  }
  if (a === 0) return '0';
  if (a >= 1) return trim(v.toPrecision(3));
  return trim(v.toPrecision(2));
}

function trim(s: string): string {
  return s.includes('.') && !s.includes('e') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

// ---- time ----------------------------------------------------------------------------------

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

type TimeStep = { ms: number } | { months: number };

const TIME_STEPS: TimeStep[] = [
  { ms: MIN },
  { ms: 5 * MIN },
  { ms: 15 * MIN },
  { ms: 30 * MIN },
  { ms: HOUR },
  { ms: 2 * HOUR },
  { ms: 3 * HOUR },
  { ms: 4 * HOUR },
  { ms: 6 * HOUR },
  { ms: 12 * HOUR },
  { ms: DAY },
  { ms: 2 * DAY },
  { ms: 7 * DAY },
  { ms: 14 * DAY },
  { months: 1 },
  { months: 2 },
  { months: 3 },
  { months: 6 },
  { months: 12 },
  { months: 24 },
  { months: 60 },
];

export interface TimeTick {
  t: number;
  label: string;
  /** a day/month/year boundary: drawn a little stronger */
  major: boolean;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * UTC-aligned ticks over [t0, t1] with at most `maxTicks` labels. Hours show as "14:00" with
 * the date ("Jul 12") at midnight; days as "Jul 12" with the month at its first day; months
 * as "Aug" with the year at January.
 */
export function timeTicks(t0: number, t1: number, maxTicks: number): TimeTick[] {
  const span = Math.max(1, t1 - t0);
  const max = Math.max(2, maxTicks);
  let step: TimeStep = TIME_STEPS[TIME_STEPS.length - 1] as TimeStep;
  for (const s of TIME_STEPS) {
    const approx = 'ms' in s ? s.ms : s.months * 30.44 * DAY;
    if (span / approx <= max) {
      step = s;
      break;
    }
  }
  const out: TimeTick[] = [];
  if ('ms' in step) {
    const ms = step.ms;
    // weekly ticks fall on Mondays (1970-01-05 was a Monday)
    const offset = ms === 7 * DAY || ms === 14 * DAY ? 4 * DAY : 0;
    let t = Math.ceil((t0 - offset) / ms) * ms + offset;
    for (; t <= t1; t += ms) {
      const d = new Date(t);
      const midnight = d.getUTCHours() === 0 && d.getUTCMinutes() === 0;
      if (ms < DAY) {
        if (midnight) out.push({ t, label: dayLabel(d), major: true });
        else out.push({ t, label: `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`, major: false });
      } else {
        const first = d.getUTCDate() === 1;
        const jan1 = first && d.getUTCMonth() === 0;
        out.push({ t, label: jan1 ? String(d.getUTCFullYear()) : dayLabel(d), major: first });
      }
    }
  } else {
    const n = step.months;
    const s = new Date(t0);
    let y = s.getUTCFullYear();
    let m = s.getUTCMonth();
    // first month boundary at or after t0 that is a multiple of the step
    if (Date.UTC(y, m, 1) < t0) m += 1;
    let idx = y * 12 + m;
    idx = Math.ceil(idx / n) * n;
    for (;;) {
      y = Math.floor(idx / 12);
      m = idx % 12;
      const t = Date.UTC(y, m, 1);
      if (t > t1) break;
      out.push({ t, label: m === 0 ? String(y) : (MONTHS[m] as string), major: m === 0 });
      idx += n;
    }
  }
  return out;
}

function dayLabel(d: Date): string {
  return `${MONTHS[d.getUTCMonth()] as string} ${d.getUTCDate()}`;
}
