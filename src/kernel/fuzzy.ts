/**
 * Edit distance where swapping two neighbours counts as one edit (optimal string alignment),
 * since "/hlep" is the typo people make. Bounded input: command names are ≤ 32 chars.
 */
export function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Math.max(a.length, b.length);
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    const prev = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (rows[i - 2] as number[])[j - 2] as number + 1);
      cur[j] = d;
    }
    rows.push(cur);
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/**
 * Up to `max` candidates closest to `input` (case-insensitive): prefix matches first, then edit
 * distance ≤ `maxDistance`. For "did you mean" answers.
 */
export function closest(input: string, candidates: Iterable<string>, opts: { max?: number; maxDistance?: number } = {}): string[] {
  const { max = 3, maxDistance = input.length < 3 ? 1 : 2 } = opts;
  const needle = input.toLowerCase();
  const scored: Array<{ c: string; d: number }> = [];
  for (const c of candidates) {
    const hay = c.toLowerCase();
    const d = hay.startsWith(needle) || needle.startsWith(hay) ? 0.5 : editDistance(needle, hay);
    if (d <= maxDistance) scored.push({ c, d });
  }
  scored.sort((a, b) => a.d - b.d || a.c.localeCompare(b.c));
  return [...new Set(scored.map((x) => x.c))].slice(0, max);
}
