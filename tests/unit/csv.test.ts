import { describe, expect, it } from 'vitest';
import { BadDataError } from '../../src/market/errors.js';
import { candleRow, lastCandleTimeFromTail, parseCandleCsv, parseTradesCsv } from '../../src/market/replay/csv.js';

const H = 'timestamp,open,high,low,close,volume';
const buf = (s: string): Buffer => Buffer.from(s, 'utf8');
const rows = (s: string) => {
  const c = parseCandleCsv(buf(s), 'x.csv');
  return Array.from({ length: c.length }, (_, i) => [c.time[i], c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]]);
};
function badData(fn: () => unknown): BadDataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BadDataError);
    return e as BadDataError;
  }
  throw new Error('expected a BadDataError');
}

describe('parseCandleCsv', () => {
  it('parses rows into columns, values equal to Number(text)', () => {
    const text = `${H}\n1606780800000,19695.87,19720,19479.8,19565.47,4570.361518\n1606784400000,0.0003795,0.00039,0.0003654,0.000366,2057315798\n`;
    expect(rows(text)).toEqual([
      [1606780800000, 19695.87, 19720, 19479.8, 19565.47, 4570.361518],
      [1606784400000, 0.0003795, 0.00039, 0.0003654, 0.000366, 2057315798],
    ]);
    const c = parseCandleCsv(buf(text), 'x.csv');
    expect(c.length).toBe(2);
    expect(c.time).toBeInstanceOf(Float64Array);
  });

  it('accepts CRLF, a missing trailing newline, trailing blank lines and a BOM', () => {
    const want = [
      [1, 2, 3, 1, 2, 5],
      [2, 2, 3, 1, 2, 6],
    ];
    expect(rows(`${H}\r\n1,2,3,1,2,5\r\n2,2,3,1,2,6\r\n`)).toEqual(want);
    expect(rows(`${H}\n1,2,3,1,2,5\n2,2,3,1,2,6`)).toEqual(want);
    expect(rows(`${H}\r\n1,2,3,1,2,5\r\n2,2,3,1,2,6`)).toEqual(want);
    expect(rows(`${H}\n1,2,3,1,2,5\n2,2,3,1,2,6\n\n\n`)).toEqual(want);
    expect(rows(`\ufeff${H}\n1,2,3,1,2,5\n2,2,3,1,2,6\n`)).toEqual(want);
  });

  it('a header-only file has no rows', () => {
    expect(rows(`${H}\n`)).toEqual([]);
    expect(rows(H)).toEqual([]);
  });

  it('reads exponents, signs and long mantissas exactly as Number() does', () => {
    const vals = ['1e-7', '8.1e-7', '2.5E+3', '-3.25', '0', '0.1', '123456789012345678', '0.30000000000000004', '1.7976931348623157e308', '5e-324', '.5', '7.'];
    const text = `${H}\n${vals.map((v, i) => `${i},${v},${v},${v},${v},${v}`).join('\n')}\n`;
    const c = parseCandleCsv(buf(text), 'x.csv');
    vals.forEach((v, i) => expect(c.open[i]).toBe(Number(v)));
  });

  it('refuses a wrong or missing header, naming the file and line 1', () => {
    expect(badData(() => parseCandleCsv(buf('time,open,high,low,close,volume\n1,2,3,1,2,5\n'), 'data/a.csv')).message).toMatch(/^data\/a\.csv: line 1: expected the header "timestamp,open,high,low,close,volume", got "time,open/);
    expect(badData(() => parseCandleCsv(buf(''), 'data/a.csv')).message).toMatch(/data\/a\.csv: empty file/);
    expect(badData(() => parseCandleCsv(buf('1,2,3,1,2,5\n'), 'a.csv')).message).toMatch(/line 1: expected the header/);
  });

  it('a malformed number is an error with its line number and the row', () => {
    const e = badData(() => parseCandleCsv(buf(`${H}\n1,2,3,1,2,5\n2,2,3,1,2,6\n3,2,3x,1,2,6\n`), 'f.csv'));
    expect(e.message).toBe('f.csv: line 4: high is not a number: "3,2,3x,1,2,6"');
    expect(badData(() => parseCandleCsv(buf(`${H}\n1,2,,1,2,5\n`), 'f.csv')).message).toMatch(/^f\.csv: line 2: high is not a number/);
    expect(badData(() => parseCandleCsv(buf(`${H}\n1,2,3,1,2,NaN\n`), 'f.csv')).message).toMatch(/^f\.csv: line 2: volume is not a number/);
    expect(badData(() => parseCandleCsv(buf(`${H}\n1,2,3,1,2,5e\n`), 'f.csv')).message).toMatch(/^f\.csv: line 2: volume is not a number/);
    expect(badData(() => parseCandleCsv(buf(`${H}\n1,2,3,1,2,-\n`), 'f.csv')).message).toMatch(/^f\.csv: line 2: volume is not a number/);
  });

  it('a row with too few or too many fields is an error with its line number', () => {
    expect(badData(() => parseCandleCsv(buf(`${H}\n1,2,3,1,2,5\n2,2,3,1,2\n`), 'f.csv')).message).toBe('f.csv: line 3: 5 fields, expected 6 (timestamp,open,high,low,close,volume): "2,2,3,1,2"');
    expect(badData(() => parseCandleCsv(buf(`${H}\n1,2,3,1,2,5,7\n`), 'f.csv')).message).toMatch(/^f\.csv: line 2: 7 fields, expected 6/);
    // a torn last line (an interrupted write) is caught, not half-read
    expect(badData(() => parseCandleCsv(buf(`${H}\n1,2,3,1,2,5\n2,2,3`), 'f.csv')).message).toMatch(/^f\.csv: line 3: 3 fields/);
  });

  it('an empty line inside the data is an error', () => {
    expect(badData(() => parseCandleCsv(buf(`${H}\n1,2,3,1,2,5\n\n2,2,3,1,2,6\n`), 'f.csv')).message).toBe('f.csv: line 3: empty line inside the data');
  });

  it('a bare CR inside a row is refused', () => {
    expect(() => parseCandleCsv(buf(`${H}\n1,2,3,1,2,5\r2,2,3,1,2,6\n`), 'f.csv')).toThrow(/line 2/);
  });

  it('works on a plain Uint8Array as well as a Buffer', () => {
    const u8 = new Uint8Array(buf(`${H}\n1,2,3,1,2,5\n`));
    expect(parseCandleCsv(u8, 'x').length).toBe(1);
  });
});

describe('lastCandleTimeFromTail', () => {
  it('finds the last row from the tail bytes', () => {
    expect(lastCandleTimeFromTail(buf(`,2,3,4\n1606784400000,1,2,3,4,5\n`), 'f', false)).toBe(1606784400000);
    expect(lastCandleTimeFromTail(buf(`${H}\r\n1,1,2,3,4,5\r\n\r\n`), 'f', true)).toBe(1);
  });
  it('needs more bytes when the tail holds no whole line; a header-only file is "header"', () => {
    expect(lastCandleTimeFromTail(buf('84400000,1,2,3,4,5\n'), 'f', false)).toBeNull();
    expect(lastCandleTimeFromTail(buf(`${H}\n`), 'f', true)).toBe('header');
  });
  it('a bad last line is an error naming the file', () => {
    expect(() => lastCandleTimeFromTail(buf(`${H}\nxx,1,2\n`), 'f.csv', true)).toThrow(/f\.csv: last line/);
  });
});

describe('candleRow', () => {
  it('writes what the parser reads back', () => {
    const vals = [1606780800000, 19695.87, 1e-7, 0.000366, 8.1e-7, 123456.789];
    const text = `${H}\n${candleRow(vals[0] as number, vals[1] as number, vals[2] as number, vals[3] as number, vals[4] as number, vals[5] as number)}`;
    expect(rows(text)).toEqual([vals]);
  });
});

describe('parseTradesCsv', () => {
  it('reads the binance format as recorded', () => {
    const t = parseTradesCsv(buf('timestamp,id,side,price,amount,cost\n1570752011620,13519807,sell,0.00141342,23,0.03250866\n1570752011621,13519808,buy,0.5,2,1\n'), 't.csv');
    expect(t.length).toBe(2);
    expect([t.id[0], t.side[0], t.price[0], t.amount[0], t.cost[0]]).toEqual(['13519807', 'sell', 0.00141342, 23, 0.03250866]);
    expect(t.side[1]).toBe('buy');
  });
  it('reads the kraken format: id = row number, side unknown (null), cost = price × amount', () => {
    const t = parseTradesCsv(buf('timestamp,price,amount\n1672620536000,90.070000,1.10000000\n1672621569000,90.000000,0.05000000\n'), 'k.csv');
    expect(t.id).toEqual(['1', '2']);
    expect(t.side).toEqual([null, null]);
    expect(t.cost[0]).toBe(90.07 * 1.1);
  });
  it('refuses bad rows with their line', () => {
    expect(() => parseTradesCsv(buf('timestamp,price,amount\n1,2,3\n2,x,3\n'), 'k.csv')).toThrow('k.csv: line 3: price is not a number');
    expect(() => parseTradesCsv(buf('timestamp,price,amount\n5,2,3\n2,2,3\n'), 'k.csv')).toThrow('k.csv: line 3: trade time goes backwards');
    expect(() => parseTradesCsv(buf('timestamp,id,side,price,amount,cost\n1,a,hold,1,1,1\n'), 'b.csv')).toThrow('b.csv: line 2: side must be buy or sell');
    expect(() => parseTradesCsv(buf('ts,price\n'), 'b.csv')).toThrow(/b\.csv: line 1: expected the header/);
  });
});
