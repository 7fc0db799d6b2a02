/**
 * Numbers in prose, and the rule for when one restates a fact.
 *
 * Found: 31706, 31,706.33, -3.2, +2.41%, $31,706, -$120.50, 31.7k, $1.2m, 3bn, 2.5 million.
 * Every digit run in the text is part of some number (nothing is skipped as "part of a word"):
 * "H4" yields 4 and "1h" yields 1, so the model cannot slip a number past the check.
 *
 * Tolerance rule: a number shown with d decimals and scale S (k = 10³, m/million = 10⁶,
 * bn/b = 10⁹) restates fact f when |shown − |f|/S| ≤ ½·10⁻ᵈ, i.e. it is f rounded to the shown
 * precision (ties either way). An explicit sign must agree with f's sign ("−3.2%" never restates
 * +3.2); an unsigned number matches by magnitude ("fell 3.2%" restates −3.2). Units ($, %) are
 * not checked. So 31706.33 may appear as 31,706, 31,706.3, $31,706.33, 31.7k or 32k, but not as
 * 31,707, 31,706.4 or 31.8k.
 */

export interface ShownNumber {
  /** as written, for messages */
  raw: string;
  /** the digits as a number, without sign or scale: "31.7k" → 31.7 */
  value: number;
  decimals: number;
  scale: number;
  sign: '+' | '-' | null;
  index: number;
}

const SCALES: Record<string, number> = { k: 1e3, m: 1e6, mn: 1e6, b: 1e9, bn: 1e9, thousand: 1e3, million: 1e6, billion: 1e9, trillion: 1e12 };

// sign, currency, integer part (grouped or plain) or a bare fraction, scale word/letter, percent.
const NUMBER = /([+\-\u2212]\s?)?([$€£]\s?)?((?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)(?:(\s?(?:bn|mn|[kKmMbB]))(?![\p{L}\p{N}])|\s(thousand|million|billion|trillion)\b)?(\s?%)?/gu;

export function findNumbers(text: string): ShownNumber[] {
  const out: ShownNumber[] = [];
  for (const m of text.matchAll(NUMBER)) {
    const digits = m[3] ?? '';
    const [, frac = ''] = digits.split('.');
    const scaleWord = (m[4] ?? m[5] ?? '').trim().toLowerCase();
    let sign: '+' | '-' | null = null;
    if (m[1] !== undefined) {
      // "2026-01-01" and "100-200": a dash right after a letter or digit is not a sign.
      const before = m.index > 0 ? text[m.index - 1] ?? '' : '';
      if (!/[\p{L}\p{N}]/u.test(before)) sign = m[1].trim() === '+' ? '+' : '-';
    }
    out.push({
      raw: m[0].trim(),
      value: Number(digits.replace(/,/g, '')),
      decimals: frac.length,
      scale: SCALES[scaleWord] ?? 1,
      sign,
      index: m.index,
    });
  }
  return out;
}

/** The numbers a piece of trusted text states, as facts (sign and scale applied). */
export function numbersIn(text: string): number[] {
  return findNumbers(text).map((n) => (n.sign === '-' ? -1 : 1) * n.value * n.scale);
}

/** Does `shown` restate `fact` under the tolerance rule above? */
export function restates(shown: ShownNumber, fact: number): boolean {
  if (shown.sign === '-' && fact > 0) return false;
  if (shown.sign === '+' && fact < 0) return false;
  const half = 0.5 * 10 ** -shown.decimals;
  // a few ulps of slack for binary floating point (31706.33 / 1e3), far below any displayed digit
  const slack = 8 * Number.EPSILON * Math.max(1, Math.abs(shown.value), Math.abs(fact) / shown.scale);
  return Math.abs(shown.value - Math.abs(fact) / shown.scale) <= half + slack;
}

/** The first number in `text` that restates none of `facts`, or null when all do. */
export function firstUnbackedNumber(text: string, facts: readonly number[]): ShownNumber | null {
  for (const n of findNumbers(text)) {
    if (!facts.some((f) => restates(n, f))) return n;
  }
  return null;
}
