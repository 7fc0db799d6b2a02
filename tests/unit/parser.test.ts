import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arg, readDuration, readQuantity, type ArgShape } from '../../src/kernel/commands/args.js';
import { parseArgs, usageLine } from '../../src/kernel/commands/parse-args.js';
import { tokenize } from '../../src/kernel/commands/tokenize.js';

const buyArgs = {
  symbol: arg.symbol(),
  amount: arg.quantity({ units: ['usdt', 'btc', '%'] }),
  limit: arg.number({ min: 0 }).optional(),
  note: arg.string().optional(),
};

function parse<A extends Parameters<typeof parseArgs>[0]>(shape: A, line: string) {
  const t = tokenize(line);
  if (!t.ok) return t;
  return parseArgs(shape, t.tokens);
}

describe('tokenize', () => {
  it('splits words, keeps quoted strings whole and reads key=value', () => {
    const t = tokenize(`buy "hello world" limit=42 note='a b' x\\y`);
    expect(t).toEqual({
      ok: true,
      tokens: [
        { value: 'buy', quoted: false },
        { value: 'hello world', quoted: true },
        { key: 'limit', value: '42', quoted: false },
        { key: 'note', value: 'a b', quoted: true },
        { value: 'x\\y', quoted: false },
      ],
    });
  });

  it('accepts the curly quotes phone keyboards type', () => {
    const t = tokenize('“take profit” ‘soon’');
    expect(t.ok && t.tokens.map((x) => x.value)).toEqual(['take profit', 'soon']);
  });

  it('reports an unclosed quote with its position', () => {
    expect(tokenize('note "never closed')).toEqual({ ok: false, error: 'unclosed quote " starting at character 6' });
  });
});

describe('parseArgs', () => {
  it('fills positional arguments in order and converts units', () => {
    expect(parse(buyArgs, 'btc 100usdt 64000.5')).toEqual({
      ok: true,
      args: { symbol: 'BTC', amount: { value: 100, unit: 'usdt' }, limit: 64000.5, note: undefined },
    });
  });

  it('reads percentages and thousands separators', () => {
    expect(parse(buyArgs, 'eth/usdt 0.5% 1,250.75')).toMatchObject({
      ok: true,
      args: { symbol: 'ETH/USDT', amount: { value: 0.5, unit: '%' }, limit: 1250.75 },
    });
  });

  it('takes key=value in any position', () => {
    expect(parse(buyArgs, 'limit=10 btc amount=1btc')).toMatchObject({ ok: true, args: { limit: 10, amount: { value: 1, unit: 'btc' } } });
  });

  it('skips an optional argument that does not take the word when a later one does', () => {
    expect(parse(buyArgs, 'btc 100usdt "first tranche"')).toMatchObject({ ok: true, args: { limit: undefined, note: 'first tranche' } });
  });

  it('applies defaults', () => {
    const shape = { n: arg.int({ min: 1, max: 200 }).default(20) };
    expect(parse(shape, '')).toEqual({ ok: true, args: { n: 20 } });
  });

  it('rest arguments take the remaining words', () => {
    const shape = { reason: arg.string().rest() };
    expect(parse(shape, 'fat finger on   ETH')).toEqual({ ok: true, args: { reason: 'fat finger on ETH' } });
  });

  it.each([
    ['', 'missing symbol (symbol)'],
    ['btc', 'missing amount (amount)'],
    ['btc 100', 'amount: expected a unit after 100 (one of usdt, btc, %)'],
    ['btc 100eur', 'amount: unit "eur" is not accepted here (use usdt, btc, %)'],
    ['btc -5usdt', 'amount: expected an amount above zero, got -5'],
    ['btc 100usdt 1 note extra', 'too many arguments: "extra"'],
    ['btc 100usdt limit=-1', 'limit: expected at least 0, got -1'],
    ['btc 100usdt price=3', 'unknown option "price" (options: symbol, amount, limit, note)'],
    ['btc 100usdt limit=1 limit=2', 'limit is given twice'],
    ['b$c 100usdt', 'symbol: expected a symbol like BTC or BTC/USDT, got "b$c"'],
  ])('"%s" → %s', (line, error) => {
    expect(parse(buyArgs, line)).toEqual({ ok: false, error });
  });

  it('choices are case-insensitive and list the options when wrong', () => {
    const shape = { tf: arg.choice(['1h', '4h', '1d'] as const) };
    expect(parse(shape, '4H')).toEqual({ ok: true, args: { tf: '4h' } });
    expect(parse(shape, '2h')).toEqual({ ok: false, error: 'tf: expected one of 1h, 4h, 1d, got "2h"' });
  });

  it('usage lines mark required, optional and rest arguments', () => {
    expect(usageLine('buy', buyArgs)).toBe('/buy <symbol> <amount> [limit] [note]');
    expect(usageLine('halt', { reason: arg.string().rest() })).toBe('/halt <reason...>');
  });
});

describe('readers', () => {
  it('durations', () => {
    expect(readDuration('90s')).toBe(90_000);
    expect(readDuration('1.5h')).toBe(5_400_000);
    expect(readDuration('2 d')).toBe(172_800_000);
    expect(readDuration('5 minutes')).toBeUndefined();
  });
  it('quantities', () => {
    expect(readQuantity('1_000USDT')).toEqual({ value: 1000, unit: 'usdt' });
    expect(readQuantity('1,00,0usdt')).toBeUndefined();
    expect(readQuantity('1e9')).toBeUndefined();
  });
});

describe('parser properties', () => {
  const shapes: ArgShape[] = [buyArgs, { n: arg.int().default(1) }, { reason: arg.string().rest() }, {}];

  it('no input string throws, and every failure is a one-line message', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 80 }), fc.constantFrom(...shapes), (line, shape) => {
        const r = parse(shape, line);
        if (!r.ok) {
          expect(r.error.length).toBeGreaterThan(0);
          expect(r.error).not.toMatch(/\n/);
          expect(r.error).not.toMatch(/at .*\.ts:\d+/); // no stack frames
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('also holds for lines built from the parser’s own vocabulary', () => {
    const word = fc.constantFrom('btc', '100usdt', '0.5%', '"', "'", '=', 'limit=', 'limit=1', 'note="a b"', '“x', '\\', '-1', '1,000', '');
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), fc.constantFrom(...shapes), (words, shape) => {
        const r = parse(shape, words.join(' '));
        expect(typeof r.ok).toBe('boolean');
        if (!r.ok) expect(r.error).not.toMatch(/\n/);
      }),
      { numRuns: 3000 },
    );
  });

  it('a quoted value round-trips exactly', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }).filter((s) => !s.includes('"') && !s.includes('\\') && s.trim() === s && s !== ''), (s) => {
        const r = parse({ note: arg.string({ max: 100 }) }, `"${s}"`);
        expect(r).toEqual({ ok: true, args: { note: s } });
      }),
    );
  });
});
