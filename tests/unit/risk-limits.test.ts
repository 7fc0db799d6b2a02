import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, LIMIT_NAMES, configLimits, riskConfigSchema } from '../../plugins/risk/config.js';
import { applyOverrides, findLimit, formatLimit, parseLimitValue, type SymbolResolver } from '../../plugins/risk/limits.js';

/** The limits' config, what `/limits set` accepts for each, and how stored overrides apply. */

const resolve: SymbolResolver = async (exchange, symbol) => {
  const known: Record<string, string> = { btc: 'BTC/USDT', eth: 'ETH/USDT', 'btc/usdt': 'BTC/USDT', 'eth/usdt': 'ETH/USDT' };
  const hit = known[symbol.toLowerCase()];
  if (hit === undefined) throw new Error(`unknown symbol ${symbol.toUpperCase()} on ${exchange ?? 'binance'}`);
  return exchange === undefined ? hit : `${exchange}:${hit}`;
};
const parse = (name: (typeof LIMIT_NAMES)[number], text: string) => parseLimitValue(name, text, 'USDT', resolve);

describe('config (plugins.settings.risk)', () => {
  it('an empty section gives every default', () => {
    const cfg = riskConfigSchema.parse({});
    expect(configLimits(cfg)).toEqual(DEFAULT_LIMITS);
    expect(cfg).toMatchObject({
      currency: null,
      exchange: null,
      guardIntervalSeconds: 30,
      brokerErrorRate: { maxFailures: 3, windowMinutes: 15 },
      sizing: { method: 'volatility', maxRiskPct: 5, targetVolPct: 40, volTimeframe: '1h', volLookback: 720, kellyFraction: 0.5, kellyCap: 0.25, kellyMinTrades: 30, kellyLookbackDays: 90 },
    });
  });

  it('is strict: a misspelt key is an error naming it, as is a value out of bounds', () => {
    const typo = riskConfigSchema.safeParse({ maxOrderNotinal: 5 });
    expect(typo.success).toBe(false);
    expect(JSON.stringify(typo.error?.issues)).toContain('maxOrderNotinal');
    expect(riskConfigSchema.safeParse({ maxDrawdownPct: 0 }).success).toBe(false);
    expect(riskConfigSchema.safeParse({ brokerErrorRate: { maxFailures: 2.5 } }).success).toBe(false);
    expect(riskConfigSchema.safeParse({ sizing: { method: 'martingale' } }).success).toBe(false);
    expect(riskConfigSchema.safeParse({ allowedSymbols: ['btc'] }).success).toBe(false);
    expect(riskConfigSchema.safeParse({ allowedSymbols: ['BTC/USDT', 'kraken:ETH/USD'] }).success).toBe(true);
  });

  it('the nested broker error rate is one limit name per field', () => {
    const cfg = riskConfigSchema.parse({ brokerErrorRate: { maxFailures: 7 } });
    expect(configLimits(cfg)).toMatchObject({ 'brokerErrorRate.maxFailures': 7, 'brokerErrorRate.windowMinutes': 15 });
  });
});

describe('/limits set: reading a value in the units people type', () => {
  it('money: plain, with separators, or with the desk currency', async () => {
    expect(await parse('maxOrderNotional', '5000')).toEqual({ ok: true, value: 5000 });
    expect(await parse('maxOrderNotional', '5,000.50')).toEqual({ ok: true, value: 5000.5 });
    expect(await parse('maxOrderNotional', '5000usdt')).toEqual({ ok: true, value: 5000 });
    expect(await parse('minBookDepthQuote', '0')).toEqual({ ok: true, value: 0 });
  });

  it('percent, bps, seconds and minutes take their units or bare numbers', async () => {
    expect(await parse('priceBandPct', '2.5%')).toEqual({ ok: true, value: 2.5 });
    expect(await parse('maxDrawdownPct', '12')).toEqual({ ok: true, value: 12 });
    expect(await parse('maxSpreadBps', '25bps')).toEqual({ ok: true, value: 25 });
    expect(await parse('staleDataSeconds', '2m')).toEqual({ ok: true, value: 120 });
    expect(await parse('staleDataSeconds', '90')).toEqual({ ok: true, value: 90 });
    expect(await parse('brokerErrorRate.windowMinutes', '1h')).toEqual({ ok: true, value: 60 });
    expect(await parse('brokerErrorRate.maxFailures', '5')).toEqual({ ok: true, value: 5 });
  });

  it('symbols are resolved like any symbol argument; "all" clears the list', async () => {
    expect(await parse('allowedSymbols', 'btc, eth')).toEqual({ ok: true, value: ['BTC/USDT', 'ETH/USDT'] });
    expect(await parse('allowedSymbols', 'kraken:btc ETH/USDT btc')).toEqual({ ok: true, value: ['kraken:BTC/USDT', 'ETH/USDT', 'BTC/USDT'] });
    expect(await parse('allowedSymbols', 'all')).toEqual({ ok: true, value: [] });
    expect(await parse('allowedSymbols', 'btc doge')).toEqual({ ok: false, message: 'allowedSymbols: unknown symbol DOGE on binance' });
  });

  it('a bad value is refused with what the limit takes and what was typed', async () => {
    expect(await parse('maxOrderNotional', '-5')).toEqual({ ok: false, message: 'maxOrderNotional must be an amount above 0 in USDT, e.g. 5000, got "-5"' });
    expect(await parse('maxOrderNotional', 'lots')).toEqual({ ok: false, message: 'maxOrderNotional must be an amount above 0 in USDT, e.g. 5000, got "lots"' });
    expect(await parse('maxOrderNotional', '5btc')).toEqual({
      ok: false,
      message: 'maxOrderNotional must be an amount above 0 in USDT, e.g. 5000, got "5btc" (limits are in USDT, not BTC)',
    });
    expect(await parse('maxOpenOrders', '2.5')).toEqual({ ok: false, message: 'maxOpenOrders must be a whole number from 1 to 10,000, got "2.5"' });
    expect(await parse('maxOpenOrders', '0')).toEqual({ ok: false, message: 'maxOpenOrders must be a whole number from 1 to 10,000, got "0"' });
    expect(await parse('maxDrawdownPct', '150%')).toEqual({ ok: false, message: 'maxDrawdownPct must be a percentage above 0 and at most 100, e.g. 10 or 10%, got "150%"' });
    expect(await parse('staleDataSeconds', '1.5s')).toMatchObject({ ok: false });
    expect(await parse('maxSpreadBps', '25%')).toMatchObject({ ok: false });
  });

  it('the words and the schema agree at every bound', async () => {
    expect(await parse('maxOpenOrders', '1')).toMatchObject({ ok: true });
    expect(await parse('maxOpenOrders', '10000')).toMatchObject({ ok: true });
    expect(await parse('maxOpenOrders', '10001')).toMatchObject({ ok: false });
    expect(await parse('maxDrawdownPct', '100')).toMatchObject({ ok: true });
    expect(await parse('maxDrawdownPct', '0')).toMatchObject({ ok: false });
    expect(await parse('maxSpreadBps', '10000')).toMatchObject({ ok: true });
    expect(await parse('maxSpreadBps', '10001')).toMatchObject({ ok: false });
    expect(await parse('staleDataSeconds', '86400')).toMatchObject({ ok: true });
    expect(await parse('staleDataSeconds', '86401')).toMatchObject({ ok: false });
    expect(await parse('brokerErrorRate.windowMinutes', '1441')).toMatchObject({ ok: false });
  });
});

describe('limit names', () => {
  it('case does not matter; a nested field is found by its last part too', () => {
    expect(findLimit('MAXORDERNOTIONAL')).toEqual({ name: 'maxOrderNotional' });
    expect(findLimit('maxFailures')).toEqual({ name: 'brokerErrorRate.maxFailures' });
  });

  it('a typo gets the closest names', () => {
    expect(findLimit('maxOrderNotinal')).toEqual({ suggestions: ['maxOrderNotional'] });
    expect(findLimit('dailyLoss')).toEqual({ suggestions: ['dailyLossLimit'] });
    expect(findLimit('zzz')).toEqual({ suggestions: [] });
  });
});

describe('stored overrides on top of the config', () => {
  it('valid ones apply; invalid or unknown ones are dropped and named, never half-used', () => {
    const r = applyOverrides(DEFAULT_LIMITS, { maxOrderNotional: 5000, maxOpenOrders: 0.5, bogus: 1, allowedSymbols: ['ETH/USDT'] });
    expect(r.limits).toEqual({ ...DEFAULT_LIMITS, maxOrderNotional: 5000, allowedSymbols: ['ETH/USDT'] });
    expect(r.overridden).toEqual(['maxOrderNotional', 'allowedSymbols']);
    expect(r.dropped).toEqual(['maxOpenOrders: stored value 0.5 is not valid', 'bogus: not a limit']);
    expect(applyOverrides(DEFAULT_LIMITS, undefined).limits).toEqual(DEFAULT_LIMITS);
  });

  it('formats each kind with its unit', () => {
    expect(formatLimit('maxOrderNotional', 5000, 'USDT')).toBe('5,000.00 USDT');
    expect(formatLimit('maxOpenOrders', 20, 'USDT')).toBe('20');
    expect(formatLimit('maxSpreadBps', 50, 'USDT')).toBe('50.0 bps');
    expect(formatLimit('priceBandPct', 5, 'USDT')).toBe('5.00 %');
    expect(formatLimit('staleDataSeconds', 300, 'USDT')).toBe('300 s');
    expect(formatLimit('brokerErrorRate.windowMinutes', 15, 'USDT')).toBe('15 min');
    expect(formatLimit('allowedSymbols', [], 'USDT')).toBe('all markets');
    expect(formatLimit('allowedSymbols', ['BTC/USDT', 'ETH/USDT'], 'USDT')).toBe('BTC/USDT, ETH/USDT');
  });
});
