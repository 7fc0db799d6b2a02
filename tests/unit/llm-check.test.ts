import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAnswer, checkText, type CheckResult } from '../../src/llm/check.js';
import type { Facts } from '../../src/llm/facts.js';
import { defaultPromptsDir, loadPrompts } from '../../src/llm/prompts.js';
import { KNOWN_CURRENCIES } from '../../src/llm/symbols.js';
import { renderTemplate } from '../../src/llm/template.js';

/** The output checks a model's text must pass before anyone sees it. */

const known = new Set(KNOWN_CURRENCIES);
const facts: Facts = {
  symbols: ['BTC/USDT'],
  numbers: { price: 31706.33, changePct: -3.24 },
  text: { window: '24h', signal: 'sell', regime: 'trending down' },
  quoted: { question: 'will ETH hit 5000?' },
};
const check = (text: string, f: Facts = facts, maxChars = 600): CheckResult => checkText(text, { facts: f, maxChars, knownCurrencies: known });

describe('symbols', () => {
  it('the given pair and its parts are fine, in either spelling', () => {
    expect(check('BTC/USDT and BTC-USDT: BTC priced in USDT, about $31.7k.')).toEqual({ ok: true, text: expect.any(String) });
  });

  it.each([
    ['ETH is strong', 'symbol "ETH" was not given'],
    ['ETH/USDT moves', 'symbol "ETH/USDT" was not given'],
    ['BTC/EUR moves', 'symbol "BTC/EUR" was not given'],
    ['watch $PEPE', 'symbol "$PEPE" was not given'],
    ['unlike Ethereum', 'symbol "Ethereum" was not given'],
  ])('%s → rejected', (text, reason) => {
    expect(check(text)).toEqual({ ok: false, reason });
  });

  it('chat text is not a source of symbols (ETH is only in the quoted question)', () => {
    expect(check('ETH was asked about')).toEqual({ ok: false, reason: 'symbol "ETH" was not given' });
  });

  it('capitalised words that are not currencies are left alone; fiat codes are units', () => {
    expect(check('RSI and EMA agree; PNL in USD; UTC close.').ok).toBe(true);
  });

  it('symbols named in trusted labels are allowed (a reason that mentions ETH)', () => {
    expect(check('BTC/USDT follows ETH lower.', { ...facts, text: { ...facts.text, 'reasons.1': 'correlation with ETH' } }).ok).toBe(true);
  });
});

describe('numbers', () => {
  it('numbers written in trusted labels count as facts; numbers in chat text do not', () => {
    const f: Facts = { ...facts, text: { ...facts.text, 'reasons.1': 'RSI(14) at 72.4 above 70' } };
    expect(check('RSI(14) at 72.4, above 70, over 24h.', f).ok).toBe(true);
    expect(check('5000 is not a fact', f)).toEqual({ ok: false, reason: 'number "5000" is not in the facts' });
  });
});

describe('shape, length, links, mentions', () => {
  it('the answer must be JSON {"summary": string} and nothing else', () => {
    const ctx = { facts, maxChars: 600, knownCurrencies: known };
    expect(checkAnswer('{"summary":"BTC/USDT at $31,706.33"}', ctx).ok).toBe(true);
    expect(checkAnswer('{"summary":"x","extra":1}', ctx)).toEqual({ ok: false, reason: 'answer is not {"summary": string}' });
    expect(checkAnswer('{"summary":"   "}', ctx)).toEqual({ ok: false, reason: 'empty summary' });
    expect(checkAnswer('{"summary":', ctx)).toEqual({ ok: false, reason: 'answer is not JSON' });
  });

  it('length, links and mentions', () => {
    expect(check('BTC/USDT is lower today.', facts, 10)).toEqual({ ok: false, reason: 'too long: 24 characters, limit 10' });
    expect(check('see www.example.com')).toEqual({ ok: false, reason: 'contains a link' });
    expect(check('see [this](x)')).toEqual({ ok: false, reason: 'contains a link' });
    expect(check('@here BTC/USDT')).toEqual({ ok: false, reason: 'contains a mention' });
    expect(check('<@U123> BTC/USDT')).toEqual({ ok: false, reason: 'contains a mention' });
  });
});

describe('every prompt template passes the same checks as the model (property)', () => {
  const registry = loadPrompts(defaultPromptsDir());
  const price = fc.double({ min: 1e-6, max: 1e7, noNaN: true });
  const pct = fc.double({ min: -99, max: 500, noNaN: true });
  const pnl = fc.double({ min: -1e7, max: 1e7, noNaN: true });
  const pairs = fc.uniqueArray(fc.constantFrom('BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT', 'ADA/USDT', '1INCH/USDT'), { minLength: 1, maxLength: 5 });

  const passes = (id: string, f: Facts): boolean => {
    const prompt = registry.get(id);
    if (!prompt) throw new Error(`no prompt ${id}`);
    const text = renderTemplate(prompt.template, f);
    const r = checkText(text, { facts: f, maxChars: 10_000, knownCurrencies: known });
    if (!r.ok) throw new Error(`${id}: "${text}" failed: ${r.reason}`);
    return true;
  };

  it('market-summary', () => {
    fc.assert(
      fc.property(fc.constantFrom('BTC/USDT', 'ETH/USDT', '1INCH/USDT'), price, pct, (sym, p, c) =>
        passes('market-summary', { symbols: [sym], numbers: { price: p, changePct: c }, text: { window: '24h', signal: 'buy', regime: 'range' } }),
      ),
    );
  });

  it('portfolio-summary (also with no positions)', () => {
    fc.assert(
      fc.property(fc.oneof(pairs, fc.constant([] as string[])), fc.double({ min: 0, max: 1e4, noNaN: true }), pnl, pct, (syms, qty, p, risk) => {
        const numbers: Record<string, number> = { totalPnl: p, riskUsePct: Math.abs(risk) };
        syms.forEach((s, i) => {
          numbers[`${s}.qty`] = qty / (i + 1);
          numbers[`${s}.pnl`] = p / (i + 2);
        });
        return passes('portfolio-summary', { symbols: syms, numbers });
      }),
    );
  });

  it('digest-summary', () => {
    fc.assert(
      fc.property(pairs, pct, pnl, fc.integer({ min: 0, max: 500 }), (syms, c, p, alerts) => {
        const numbers: Record<string, number> = { deskPnl: p, alerts };
        syms.forEach((s, i) => (numbers[`${s}.changePct`] = c / (i + 1)));
        return passes('digest-summary', { symbols: syms, numbers, text: { period: 'Morning digest, 08:00 UTC' } });
      }),
    );
  });

  it('signal-explain', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 100, noNaN: true }), (rsi) =>
        passes('signal-explain', {
          symbols: ['BTC/USDT'],
          numbers: { 'reasons.1.value': rsi },
          text: { signal: 'sell', 'reasons.1': 'RSI(14) above 70', 'reasons.2': 'close below EMA(50)' },
        }),
      ),
    );
  });
});
