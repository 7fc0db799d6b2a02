import { BadDataError } from '../errors.js';
import type { Candles } from '../types.js';

/**
 * Recorded-data CSV: `timestamp,open,high,low,close,volume` (candle open time in ms UTC), and the
 * two recorded trade formats. The candle parser is the replay hot path: it walks the bytes of a
 * Buffer once and writes straight into Float64Arrays — no per-line strings, no split().
 *
 * It checks syntax only (header, six numbers a row, line endings); what the numbers mean (sorted,
 * no NaN, high ≥ open …) is the integrity gate's job (../integrity.ts). A malformed row is a
 * BadDataError naming the file and the line: a record that cannot be read is never half-used.
 */

export const CANDLE_HEADER = 'timestamp,open,high,low,close,volume';

/** the columns of a Candles series, without its exchange/symbol/timeframe labels */
export type CandleColumns = Pick<Candles, 'time' | 'open' | 'high' | 'low' | 'close' | 'volume' | 'length'>;

const NL = 10;
const CR = 13;
const COMMA = 44;
const MINUS = 45;
const PLUS = 43;
const DOT = 46;
const ZERO = 48;
const LOWER_E = 101;
const UPPER_E = 69;

/** 10^0 … 10^22: every one is exactly representable as a double. */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * Result slot of parseNumber: the position after the token. A module variable rather than a
 * returned pair, so the hot loop allocates nothing.
 */
let endPos = 0;

/**
 * Parses one decimal number (`-12.5`, `0.0003795`, `1e-7`) starting at `i`, ending at the first
 * byte that cannot continue it; sets `endPos`. Returns NaN when the bytes are not a number.
 *
 * Fast path (Clinger): with at most 15 significant digits the digits form an exact integer m,
 * and with a decimal exponent e in [-22, 22], m / 10^-e (or m · 10^e) is one correctly rounded
 * IEEE operation on exact operands — the same double Number(text) gives. Anything else (long
 * mantissas, huge exponents) falls back to Number() on the validated token.
 */
function parseNumber(buf: Uint8Array, i: number, end: number): number {
  const start = i;
  let neg = false;
  let c = i < end ? (buf[i] as number) : -1;
  if (c === MINUS || c === PLUS) {
    neg = c === MINUS;
    i++;
    c = i < end ? (buf[i] as number) : -1;
  }
  let mant = 0;
  let sig = 0; // significant digits taken into mant (leading zeros are not significant)
  let digits = 0; // all mantissa digits seen
  let scale = 0; // decimal exponent from the position of the point
  let d = c - ZERO;
  while (d >= 0 && d <= 9) {
    digits++;
    if (mant !== 0 || d !== 0) {
      mant = mant * 10 + d;
      sig++;
    }
    i++;
    d = i < end ? (buf[i] as number) - ZERO : -1;
  }
  if (i < end && buf[i] === DOT) {
    i++;
    d = i < end ? (buf[i] as number) - ZERO : -1;
    while (d >= 0 && d <= 9) {
      digits++;
      if (mant !== 0 || d !== 0) {
        mant = mant * 10 + d;
        sig++;
      }
      scale--;
      i++;
      d = i < end ? (buf[i] as number) - ZERO : -1;
    }
  }
  if (digits === 0) {
    endPos = i;
    return Number.NaN;
  }
  if (i < end && (buf[i] === LOWER_E || buf[i] === UPPER_E)) {
    i++;
    let eneg = false;
    if (i < end && (buf[i] === MINUS || buf[i] === PLUS)) {
      eneg = buf[i] === MINUS;
      i++;
    }
    let ex = 0;
    let edigits = 0;
    d = i < end ? (buf[i] as number) - ZERO : -1;
    while (d >= 0 && d <= 9) {
      if (ex < 100_000) ex = ex * 10 + d;
      edigits++;
      i++;
      d = i < end ? (buf[i] as number) - ZERO : -1;
    }
    if (edigits === 0) {
      endPos = i;
      return Number.NaN;
    }
    scale += eneg ? -ex : ex;
  }
  endPos = i;
  if (sig <= 15) {
    if (mant === 0) return neg ? -0 : 0;
    let v: number;
    if (scale === 0) v = mant;
    else if (scale < 0 && scale >= -22) v = mant / (POW10[-scale] as number);
    else if (scale > 0 && scale <= 22) v = mant * (POW10[scale] as number);
    else v = slowNumber(buf, start, i);
    return neg && scale >= -22 && scale <= 22 ? -v : v;
  }
  return slowNumber(buf, start, i);
}

/** A syntactically validated token the fast path cannot convert exactly. */
function slowNumber(buf: Uint8Array, start: number, end: number): number {
  let s = '';
  for (let k = start; k < end; k++) s += String.fromCharCode(buf[k] as number);
  return Number(s);
}

/** Bytes [start, end) as text (latin1), for error messages only; long lines are cut. */
function text(buf: Uint8Array, start: number, end: number, max = 80): string {
  let s = '';
  const stop = Math.min(end, start + max);
  for (let k = start; k < stop; k++) s += String.fromCharCode(buf[k] as number);
  return end - start > max ? `${s}…` : s;
}

function lineEnd(buf: Uint8Array, from: number): number {
  let k = from;
  while (k < buf.length && buf[k] !== NL) k++;
  return k > from && buf[k - 1] === CR ? k - 1 : k;
}

/** Where the header line ends; checks it equals `expected` (a UTF-8 BOM and CRLF are accepted). */
function checkHeader(buf: Uint8Array, file: string, expected: readonly string[]): { next: number; header: string } {
  let p = 0;
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) p = 3;
  if (p >= buf.length) throw new BadDataError(`${file}: empty file, expected the header "${expected[0]}"`);
  const e = lineEnd(buf, p);
  const header = text(buf, p, e, 200);
  if (!expected.includes(header)) {
    throw new BadDataError(`${file}: line 1: expected the header "${expected.join('" or "')}", got "${header}"`);
  }
  let next = e;
  if (next < buf.length && buf[next] === CR) next++;
  if (next < buf.length && buf[next] === NL) next++;
  return { next, header };
}

/** Only line breaks from `p` to the end: trailing blank lines are tolerated, inner ones are not. */
function onlyNewlinesFrom(buf: Uint8Array, p: number): boolean {
  for (let k = p; k < buf.length; k++) {
    const c = buf[k];
    if (c !== NL && c !== CR) return false;
  }
  return true;
}

/**
 * Parses a candle CSV held in memory. `file` names the source in errors. Rows come out in file
 * order; nothing is sorted, dropped or repaired here.
 */
export function parseCandleCsv(buf: Uint8Array, file: string): CandleColumns {
  let p = checkHeader(buf, file, [CANDLE_HEADER]).next;
  const len = buf.length;

  // Upper bound on rows: one per line break left, plus a last line without one.
  let cap = 0;
  if (buf instanceof Buffer) {
    for (let k = buf.indexOf(NL, p); k !== -1; k = buf.indexOf(NL, k + 1)) cap++;
  } else {
    for (let k = p; k < len; k++) if (buf[k] === NL) cap++;
  }
  cap++;
  const time = new Float64Array(cap);
  const open = new Float64Array(cap);
  const high = new Float64Array(cap);
  const low = new Float64Array(cap);
  const close = new Float64Array(cap);
  const volume = new Float64Array(cap);

  let n = 0;
  let line = 2;
  while (p < len) {
    const c0 = buf[p];
    if (c0 === NL || c0 === CR) {
      if (onlyNewlinesFrom(buf, p)) break;
      throw new BadDataError(`${file}: line ${line}: empty line inside the data`);
    }
    const rowStart = p;
    // six fields, unrolled: each number must end at a comma, the last at a line end
    let v = parseNumber(buf, p, len);
    if (v !== v || endPos >= len || buf[endPos] !== COMMA) throw rowError(buf, file, line, rowStart, 0);
    time[n] = v;
    v = parseNumber(buf, endPos + 1, len);
    if (v !== v || endPos >= len || buf[endPos] !== COMMA) throw rowError(buf, file, line, rowStart, 1);
    open[n] = v;
    v = parseNumber(buf, endPos + 1, len);
    if (v !== v || endPos >= len || buf[endPos] !== COMMA) throw rowError(buf, file, line, rowStart, 2);
    high[n] = v;
    v = parseNumber(buf, endPos + 1, len);
    if (v !== v || endPos >= len || buf[endPos] !== COMMA) throw rowError(buf, file, line, rowStart, 3);
    low[n] = v;
    v = parseNumber(buf, endPos + 1, len);
    if (v !== v || endPos >= len || buf[endPos] !== COMMA) throw rowError(buf, file, line, rowStart, 4);
    close[n] = v;
    v = parseNumber(buf, endPos + 1, len);
    const q = endPos;
    if (v !== v || !(q >= len || buf[q] === NL || (buf[q] === CR && (q + 1 >= len || buf[q + 1] === NL)))) throw rowError(buf, file, line, rowStart, 5);
    volume[n] = v;
    p = q + 1;
    if (buf[p - 1] === CR) p++; // CRLF: step over the LF too
    n++;
    line++;
  }
  if (n === cap) return { time, open, high, low, close, volume, length: n };
  return {
    time: time.subarray(0, n),
    open: open.subarray(0, n),
    high: high.subarray(0, n),
    low: low.subarray(0, n),
    close: close.subarray(0, n),
    volume: volume.subarray(0, n),
    length: n,
  };
}

const FIELD_NAMES = CANDLE_HEADER.split(',');

function rowError(buf: Uint8Array, file: string, line: number, rowStart: number, field: number): BadDataError {
  const end = lineEnd(buf, rowStart);
  let fields = 1;
  for (let k = rowStart; k < end; k++) if (buf[k] === COMMA) fields++;
  const why = fields !== 6 ? `${fields} field${fields === 1 ? '' : 's'}, expected 6 (${CANDLE_HEADER})` : `${FIELD_NAMES[field] ?? `field ${field + 1}`} is not a number`;
  return new BadDataError(`${file}: line ${line}: ${why}: "${text(buf, rowStart, end)}"`);
}

/**
 * The open time of the last candle in a file, from its tail bytes only (the last non-empty
 * line). Returns null when the tail holds no complete line (the caller reads a longer tail), or
 * 'header' when the last line is the header (a file with no candles yet).
 */
export function lastCandleTimeFromTail(tail: Uint8Array, file: string, wholeFile: boolean): number | null | 'header' {
  let e = tail.length;
  while (e > 0 && (tail[e - 1] === NL || tail[e - 1] === CR)) e--;
  if (e === 0) return wholeFile ? 'header' : null;
  let s = e;
  while (s > 0 && tail[s - 1] !== NL) s--;
  if (s === 0 && !wholeFile) return null; // the line may start before this tail
  const lineText = text(tail, s, e, 200);
  if (lineText === CANDLE_HEADER || lineText === `\ufeff${CANDLE_HEADER}` || lineText.endsWith(CANDLE_HEADER)) return 'header';
  const t = parseNumber(tail, s, e);
  if (t !== t || endPos >= e || tail[endPos] !== COMMA) {
    throw new BadDataError(`${file}: last line: timestamp is not a number ("${lineText}")`);
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// Writing (the downloader appends rows in exactly the recorded format)

/** One candle row as the recorded files have it; numbers in JavaScript's shortest round-trip form. */
export function candleRow(t: number, o: number, h: number, l: number, c: number, v: number): string {
  return `${t},${o},${h},${l},${c},${v}\n`;
}

// ---------------------------------------------------------------------------------------------
// Trades

export const BINANCE_TRADES_HEADER = 'timestamp,id,side,price,amount,cost';
export const KRAKEN_TRADES_HEADER = 'timestamp,price,amount';

export interface TradeColumns {
  time: Float64Array;
  id: string[];
  side: Array<'buy' | 'sell' | null>;
  price: Float64Array;
  amount: Float64Array;
  cost: Float64Array;
  length: number;
}

/**
 * Recorded trades, in either recorded format (chosen by the header, see SOURCES.md):
 *   `timestamp,id,side,price,amount,cost` — as recorded;
 *   `timestamp,price,amount` (Kraken's export) — no id or side in the record: id = the row's
 *   number in the file (1 = first trade), side null (unknown, not guessed), cost = price × amount.
 * Times must not go backwards (trades are served by time); a bad row is a BadDataError with its line.
 */
export function parseTradesCsv(buf: Uint8Array, file: string): TradeColumns {
  const { next, header } = checkHeader(buf, file, [BINANCE_TRADES_HEADER, KRAKEN_TRADES_HEADER]);
  const full = header === BINANCE_TRADES_HEADER;
  const body = Buffer.from(buf.buffer, buf.byteOffset + next, buf.length - next).toString('utf8');
  const lines = body.split('\n');
  while (lines.length > 0 && (lines[lines.length - 1] as string).replace(/\r$/, '') === '') lines.pop();
  const n = lines.length;
  const out: TradeColumns = {
    time: new Float64Array(n),
    id: new Array<string>(n),
    side: new Array<'buy' | 'sell' | null>(n),
    price: new Float64Array(n),
    amount: new Float64Array(n),
    cost: new Float64Array(n),
    length: n,
  };
  const num = (s: string | undefined, what: string, line: number, row: string): number => {
    const v = s === undefined || s.trim() === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number.NaN : Number(s);
    if (!Number.isFinite(v)) throw new BadDataError(`${file}: line ${line}: ${what} is not a number ("${row.slice(0, 80)}")`);
    return v;
  };
  const want = full ? 6 : 3;
  for (let i = 0; i < n; i++) {
    const line = i + 2;
    const row = (lines[i] as string).replace(/\r$/, '');
    const f = row.split(',');
    if (f.length !== want) throw new BadDataError(`${file}: line ${line}: ${f.length} fields, expected ${want} ("${row.slice(0, 80)}")`);
    const t = num(f[0], 'timestamp', line, row);
    if (i > 0 && t < (out.time[i - 1] as number)) throw new BadDataError(`${file}: line ${line}: trade time goes backwards`);
    out.time[i] = t;
    if (full) {
      const id = f[1] as string;
      if (id === '') throw new BadDataError(`${file}: line ${line}: empty trade id`);
      const side = f[2];
      if (side !== 'buy' && side !== 'sell' && side !== '') throw new BadDataError(`${file}: line ${line}: side must be buy or sell, got "${side}"`);
      out.id[i] = id;
      out.side[i] = side === '' ? null : side;
      out.price[i] = num(f[3], 'price', line, row);
      out.amount[i] = num(f[4], 'amount', line, row);
      out.cost[i] = num(f[5], 'cost', line, row);
    } else {
      const price = num(f[1], 'price', line, row);
      const amount = num(f[2], 'amount', line, row);
      out.id[i] = String(i + 1);
      out.side[i] = null;
      out.price[i] = price;
      out.amount[i] = amount;
      out.cost[i] = price * amount;
    }
  }
  return out;
}
