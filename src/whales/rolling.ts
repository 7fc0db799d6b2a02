/**
 * Rolling statistics over the last `w` values, for whale detection (pure, no I/O).
 *
 * RollingMedian: a fixed-window order-statistic structure made of two indexed heaps over the
 * slots of a ring buffer — `lo`, a max-heap holding the smaller half, and `hi`, a min-heap holding
 * the larger half (|lo| = |hi| or |hi| + 1). Every slot knows which heap it is in and where, so
 * the value leaving the window is replaced *in place* by the newcomer: the sizes never change,
 * one sift restores the heap, and at most one swap of the two tops restores max(lo) ≤ min(hi).
 *   push: O(log w); median: O(1); memory: 4 typed arrays of w.
 *
 * RollingMoments: mean and standard deviation of the last `w` values from running sums (O(1)
 * per value); the sums are recomputed from the ring every 16·w values so rounding cannot drift.
 */

export class RollingMedian {
  readonly capacity: number;
  private readonly vals: Float64Array;
  /** heap arrays of slot numbers */
  private readonly lo: Int32Array;
  private readonly hi: Int32Array;
  /** per slot: 0 = in lo, 1 = in hi; and its position in that heap */
  private readonly where: Uint8Array;
  private readonly pos: Int32Array;
  private nLo = 0;
  private nHi = 0;
  /** next slot to write (the oldest once full) */
  private head = 0;
  private count = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`window must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.vals = new Float64Array(capacity);
    this.lo = new Int32Array(capacity);
    this.hi = new Int32Array(capacity);
    this.where = new Uint8Array(capacity);
    this.pos = new Int32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  median(): number {
    if (this.count === 0) return Number.NaN;
    const a = this.vals[this.lo[0] as number] as number;
    if (this.nLo > this.nHi) return a;
    return (a + (this.vals[this.hi[0] as number] as number)) / 2;
  }

  /** the window's values, oldest first (for snapshots) */
  values(): number[] {
    const out: number[] = [];
    const start = this.count < this.capacity ? 0 : this.head;
    for (let k = 0; k < this.count; k++) out.push(this.vals[(start + k) % this.capacity] as number);
    return out;
  }

  push(x: number): void {
    const s = this.head;
    this.head = s + 1 === this.capacity ? 0 : s + 1;
    if (this.count === this.capacity) {
      // replace the oldest value in place: same heap, same sizes
      const old = this.vals[s] as number;
      this.vals[s] = x;
      if (this.where[s] === 0) {
        if (x > old) this.upLo(this.pos[s] as number);
        else this.downLo(this.pos[s] as number);
      } else if (x < old) this.upHi(this.pos[s] as number);
      else this.downHi(this.pos[s] as number);
      this.fixTops();
      return;
    }
    this.count++;
    this.vals[s] = x;
    if (this.nLo === 0 || x <= (this.vals[this.lo[0] as number] as number)) {
      this.insertLo(s);
      if (this.nLo > this.nHi + 1) this.insertHi(this.popLo());
    } else {
      this.insertHi(s);
      if (this.nHi > this.nLo) this.insertLo(this.popHi());
    }
  }

  private fixTops(): void {
    if (this.nHi === 0) return;
    const a = this.lo[0] as number;
    const b = this.hi[0] as number;
    if ((this.vals[a] as number) <= (this.vals[b] as number)) return;
    this.lo[0] = b;
    this.where[b] = 0;
    this.pos[b] = 0;
    this.hi[0] = a;
    this.where[a] = 1;
    this.pos[a] = 0;
    this.downLo(0);
    this.downHi(0);
  }

  private insertLo(s: number): void {
    const i = this.nLo++;
    this.lo[i] = s;
    this.where[s] = 0;
    this.pos[s] = i;
    this.upLo(i);
  }

  private insertHi(s: number): void {
    const i = this.nHi++;
    this.hi[i] = s;
    this.where[s] = 1;
    this.pos[s] = i;
    this.upHi(i);
  }

  private popLo(): number {
    const top = this.lo[0] as number;
    const last = this.lo[--this.nLo] as number;
    if (this.nLo > 0) {
      this.lo[0] = last;
      this.pos[last] = 0;
      this.downLo(0);
    }
    return top;
  }

  private popHi(): number {
    const top = this.hi[0] as number;
    const last = this.hi[--this.nHi] as number;
    if (this.nHi > 0) {
      this.hi[0] = last;
      this.pos[last] = 0;
      this.downHi(0);
    }
    return top;
  }

  // max-heap lo
  private upLo(i: number): void {
    const h = this.lo;
    const v = this.vals;
    const s = h[i] as number;
    const x = v[s] as number;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = h[p] as number;
      if ((v[ps] as number) >= x) break;
      h[i] = ps;
      this.pos[ps] = i;
      i = p;
    }
    h[i] = s;
    this.pos[s] = i;
  }

  private downLo(i: number): void {
    const h = this.lo;
    const v = this.vals;
    const n = this.nLo;
    const s = h[i] as number;
    const x = v[s] as number;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (v[h[c + 1] as number] as number) > (v[h[c] as number] as number)) c++;
      const cs = h[c] as number;
      if ((v[cs] as number) <= x) break;
      h[i] = cs;
      this.pos[cs] = i;
      i = c;
    }
    h[i] = s;
    this.pos[s] = i;
  }

  // min-heap hi
  private upHi(i: number): void {
    const h = this.hi;
    const v = this.vals;
    const s = h[i] as number;
    const x = v[s] as number;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = h[p] as number;
      if ((v[ps] as number) <= x) break;
      h[i] = ps;
      this.pos[ps] = i;
      i = p;
    }
    h[i] = s;
    this.pos[s] = i;
  }

  private downHi(i: number): void {
    const h = this.hi;
    const v = this.vals;
    const n = this.nHi;
    const s = h[i] as number;
    const x = v[s] as number;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (v[h[c + 1] as number] as number) < (v[h[c] as number] as number)) c++;
      const cs = h[c] as number;
      if ((v[cs] as number) >= x) break;
      h[i] = cs;
      this.pos[cs] = i;
      i = c;
    }
    h[i] = s;
    this.pos[s] = i;
  }
}

export class RollingMoments {
  readonly capacity: number;
  private readonly ring: Float64Array;
  private head = 0;
  private count = 0;
  private sum = 0;
  private sum2 = 0;
  private sinceExact = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`window must be an integer ≥ 2, got ${capacity}`);
    this.capacity = capacity;
    this.ring = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(x: number): void {
    const s = this.head;
    this.head = s + 1 === this.capacity ? 0 : s + 1;
    if (this.count === this.capacity) {
      const old = this.ring[s] as number;
      this.sum -= old;
      this.sum2 -= old * old;
    } else this.count++;
    this.ring[s] = x;
    this.sum += x;
    this.sum2 += x * x;
    if (++this.sinceExact >= 16 * this.capacity) this.exact();
  }

  mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  /** sample standard deviation (n − 1) */
  std(): number {
    const n = this.count;
    if (n < 2) return Number.NaN;
    const v = (this.sum2 - (this.sum * this.sum) / n) / (n - 1);
    return v > 0 ? Math.sqrt(v) : 0;
  }

  /** exact state, for snapshots (restoring it gives bit-identical means and deviations) */
  state(): { ring: number[]; head: number; count: number; sum: number; sum2: number; sinceExact: number } {
    return { ring: Array.from(this.ring.subarray(0, this.count)), head: this.head, count: this.count, sum: this.sum, sum2: this.sum2, sinceExact: this.sinceExact };
  }

  setState(st: { ring: number[]; head: number; count: number; sum: number; sum2: number; sinceExact: number }): void {
    if (st.ring.length > this.capacity || st.count !== st.ring.length) throw new RangeError('moments state does not fit this window');
    this.ring.fill(0);
    this.ring.set(st.ring);
    this.head = st.head % this.capacity;
    this.count = st.count;
    this.sum = st.sum;
    this.sum2 = st.sum2;
    this.sinceExact = st.sinceExact;
  }

  private exact(): void {
    this.sinceExact = 0;
    let s = 0;
    let s2 = 0;
    for (let k = 0; k < this.count; k++) {
      const x = this.ring[k] as number;
      s += x;
      s2 += x * x;
    }
    this.sum = s;
    this.sum2 = s2;
  }
}
