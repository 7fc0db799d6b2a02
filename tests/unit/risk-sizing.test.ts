import Keyv from 'keyv';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { riskConfigSchema } from '../../plugins/risk/config.js';
import { RiskEngine, type RiskContext } from '../../plugins/risk/engine.js';
import { closedTrades, dailyVol, finish, kellyStats, sizeByKelly, sizeByVolatility, sizeWithStop } from '../../plugins/risk/sizing.js';
import type { Balance, CheckedCandles, LedgerEntry } from '../../src/kernel/index.js';
import { UserError } from '../../src/kernel/index.js';
import { recordedCandles } from '../helpers/recorded.js';

/** Sizing for risk % orders: the arithmetic of each method, then the service on a stub desk. */

const common = { equity: 100_000, riskPct: 1, price: 50_000, quote: 'USDT' };

describe('with a stop: amount = equity × risk% / |price − stop|', () => {
  it('100,000 × 1 % = 1,000 at risk over a 2,000 stop distance → 0.5 BTC (25,000 USDT)', () => {
    const raw = sizeWithStop({ ...common, side: 'buy', stop: 48_000 });
    expect(raw.notional).toBe(25_000);
    expect(raw.detail).toBe('risk 1.00 % of equity 100,000.00 USDT = 1,000.00 USDT over the stop distance 2,000 (price 50,000, stop 48,000)');
    const sized = finish(raw, { method: 'stop', price: 50_000, equity: 100_000, maxNotional: 30_000, quote: 'USDT', base: 'BTC' });
    expect(sized).toMatchObject({ amount: 0.5, notional: 25_000, method: 'stop', capped: false });
    expect(sized.detail).toMatch(/→ 0\.5 BTC ≈ 25,000\.00 USDT at 50,000$/);
  });

  it('a sell (short or exit) puts its stop above; amount is the same arithmetic', () => {
    expect(sizeWithStop({ ...common, side: 'sell', stop: 51_000 }).notional).toBe(50_000); // 1,000 / 1,000 = 1 BTC
  });

  it('a stop on the wrong side is refused, not sized', () => {
    expect(() => sizeWithStop({ ...common, side: 'buy', stop: 50_000 })).toThrow(new UserError("a buy's stop must be below the price: stop 50,000 ≥ price 50,000"));
    expect(() => sizeWithStop({ ...common, side: 'sell', stop: 49_000 })).toThrow("a sell's stop must be above the price: stop 49,000 ≤ price 50,000");
  });

  it('maxOrderNotional caps the size and says so', () => {
    const raw = sizeWithStop({ ...common, side: 'buy', stop: 49_900 }); // 1,000 / 100 = 10 BTC = 500,000
    const sized = finish(raw, { method: 'stop', price: 50_000, equity: 100_000, maxNotional: 10_000, quote: 'USDT', base: 'BTC' });
    expect(sized).toMatchObject({ amount: 0.2, notional: 10_000, capped: true });
    expect(sized.detail).toContain('; capped by maxOrderNotional 10,000.00 USDT → 0.2 BTC');
  });
});

describe('volatility targeting: the position’s daily volatility = risk% of equity', () => {
  it('σ_day 2 %, risk 1 % → notional = 100,000 × 1 % / 2 % = 50,000', () => {
    const raw = sizeByVolatility({ ...common, sigmaDay: 0.02, targetVolPct: 1000, basis: 'test' });
    expect(raw.notional).toBeCloseTo(50_000, 6);
    expect(raw.detail).toBe("daily volatility 2.00 % (test); position's daily volatility = 1.00 % of equity 100,000.00 USDT: notional 50,000.00 USDT");
  });

  it('targetVolPct caps the annualised volatility of the position as a share of equity', () => {
    // σ_year = 2 % × √365 = 38.21 %; a 10 % cap → 100,000 × 10 % / 38.21 % = 26,171.6
    const raw = sizeByVolatility({ ...common, sigmaDay: 0.02, targetVolPct: 10, basis: 'test' });
    expect(raw.notional).toBeCloseTo((100_000 * 0.1) / (0.02 * Math.sqrt(365)), 6);
    expect(raw.detail).toContain('capped at 26,171.');
    expect(raw.detail).toContain('is 10.00 % of equity (targetVolPct)');
  });

  it('σ per candle is scaled to a day by √(candles per day): alternating ±1 % hourly closes', () => {
    // log returns alternate +a, −a: the sample σ of an even count of them is a·√(n/(n−1))
    const a = Math.log(1.01);
    const close = Float64Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? 100 : 101));
    const perCandle = a * Math.sqrt(24 / 23);
    expect(dailyVol(close, 24, 3_600_000)).toBeCloseTo(perCandle * Math.sqrt(24), 12);
  });

  it('on real candles (BTC/USDT 1h, the last 30 days recorded): a plausible σ and the size that follows', () => {
    const btc = recordedCandles('binance', 'BTC/USDT', '1h');
    const close = btc.close.subarray(btc.length - 721);
    const sigma = dailyVol(close, 720, 3_600_000);
    expect(sigma).toBeGreaterThan(0.01); // June–July 2021: a few % a day
    expect(sigma).toBeLessThan(0.1);
    const price = close[close.length - 1] as number;
    const raw = sizeByVolatility({ equity: 100_000, riskPct: 0.5, price, quote: 'USDT', sigmaDay: sigma, targetVolPct: 1000, basis: '720 × 1h' });
    expect(raw.notional).toBeCloseTo(500 / sigma, 6);
  });

  it('no movement, no size', () => {
    expect(() => sizeByVolatility({ ...common, sigmaDay: 0, targetVolPct: 40, basis: 'flat' })).toThrow(UserError);
  });
});

const entry = (orderId: string, realisedPnl: number, o: Partial<LedgerEntry> = {}): LedgerEntry => ({
  orderId,
  exchange: 'binance',
  symbol: 'BTC/USDT',
  side: 'sell',
  fill: { price: 50_000, amount: 0.1, fee: 5, feeCurrency: 'USDT', liquidity: 'taker', time: 0 },
  realisedPnl,
  quote: 'USDT',
  ...o,
});

describe('Kelly: from the ledger’s closed trades', () => {
  it('an order that only paid its fee opened a position: not a trade; fills of one order are one trade', () => {
    const ledger = [
      entry('buy1', -5, { side: 'buy' }), // a buy's fee, nothing realised
      entry('s1', 95),
      entry('s1', 45), // second fill of the same sell
      entry('s2', -105),
    ];
    expect(closedTrades(ledger)).toEqual([140, -105]);
  });

  it('win rate 60 %, payoff 1.5 → f* = 0.6 − 0.4 / 1.5 = 0.3333', () => {
    const s = kellyStats([150, 150, 150, -100, -100]);
    expect(s).toMatchObject({ trades: 5, wins: 3, losses: 2, winRate: 0.6, payoff: 1.5 });
    expect(s.full).toBeCloseTo(1 / 3, 12);
  });

  it('half Kelly, capped by kellyCap, then by risk% (without a stop the whole notional is what can be lost)', () => {
    const stats = kellyStats([...Array(18).fill(150), ...Array(12).fill(-100)]); // f* = 1/3
    const base = { ...common, stats, kellyFraction: 0.5, kellyCap: 0.25, minTrades: 30, lookbackDays: 90 };
    expect(sizeByKelly({ ...base, riskPct: 5 }).notional).toBeCloseTo(5_000, 6); // min(16.7 %, 25 %, 5 %)
    const uncapped = sizeByKelly({ ...base, riskPct: 20 });
    expect(uncapped.notional).toBeCloseTo(100_000 / 6, 6); // 16.67 %
    expect(uncapped.detail).toBe(
      '30 closed trades in 90 days: win rate 60.00 %, payoff 1.50; full Kelly 33.33 % × 0.5 = 16.67 % of equity 100,000.00 USDT: notional 16,666.67 USDT',
    );
    expect(sizeByKelly({ ...base, riskPct: 20, kellyCap: 0.1 }).detail).toContain('capped at kellyCap 10.00 %');
  });

  it('too few trades, or no edge: refused with the numbers, never guessed', () => {
    const few = kellyStats([100, -50]);
    expect(() => sizeByKelly({ ...common, stats: few, kellyFraction: 0.5, kellyCap: 0.25, minTrades: 30, lookbackDays: 90 })).toThrow(
      'Kelly sizing needs at least 30 closed trades in the ledger of the last 90 days; there are 2. Give a stop, or size by volatility.',
    );
    const losing = kellyStats([...Array(10).fill(100), ...Array(20).fill(-100)]);
    expect(() => sizeByKelly({ ...common, stats: losing, kellyFraction: 0.5, kellyCap: 0.25, minTrades: 30, lookbackDays: 90 })).toThrow(/no edge in the ledger .*full Kelly -33\.33 % ≤ 0/);
  });
});

describe('the risk.sizing service on a stub desk (prices from the market, equity from balances)', () => {
  function engine(o: { balances?: Balance[]; settings?: Record<string, unknown>; ledger?: LedgerEntry[]; closes?: Float64Array } = {}) {
    const calls: Array<Record<string, unknown>> = [];
    const ctx = {
      config: riskConfigSchema.parse(o.settings ?? {}),
      store: new Keyv(),
      clock: { now: () => Date.UTC(2026, 10, 27) },
      log: pino({ level: 'silent' }),
      audit: () => undefined,
      emit: async () => undefined,
      alert: async () => undefined,
      market: {
        defaultExchange: 'binance',
        defaultQuote: () => 'USDT',
        now: () => Date.UTC(2026, 10, 27),
        resolve: async (r: { exchange?: string; symbol: string }) => ({ exchange: r.exchange ?? 'binance', symbol: r.symbol.includes('/') ? r.symbol : `${r.symbol}/USDT` }),
        ticker: async (r: { symbol: string }) => {
          const last = ({ 'BTC/USDT': 50_000, 'ETH/USDT': 2_000 } as Record<string, number>)[r.symbol];
          if (last === undefined) throw new Error(`no price for ${r.symbol}`);
          return { exchange: 'binance', symbol: r.symbol, last, time: Date.UTC(2026, 10, 27) };
        },
        series: async (r: Record<string, unknown>) => {
          calls.push(r);
          return { close: o.closes ?? new Float64Array(0) } as unknown as CheckedCandles;
        },
      },
      orders: {
        balances: async () => o.balances ?? [{ currency: 'USDT', free: 60_000, used: 0, total: 60_000 }, { currency: 'ETH', free: 20, used: 0, total: 20 }],
        ledger: async () => o.ledger ?? [],
      },
    };
    return { calls, engine: new RiskEngine(ctx as unknown as RiskContext) };
  }

  it('equity is every balance at its market price: 60,000 USDT + 20 ETH × 2,000 = 100,000', async () => {
    const { engine: e } = engine();
    const r = await e.size({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', riskPct: 1, stopPrice: 48_000 });
    expect(r).toMatchObject({ amount: 0.2, notional: 10_000, method: 'stop', equity: 100_000, price: 50_000, capped: true });
    // 0.5 BTC by the stop arithmetic, cut to the default maxOrderNotional 10,000
    expect(r.detail).toContain('= 1,000.00 USDT over the stop distance 2,000');
  });

  it('without a stop: volatility from ctx.market.series of the configured timeframe and lookback', async () => {
    const close = Float64Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? 100 : 101));
    const { engine: e, calls } = engine({ settings: { sizing: { volTimeframe: '1h', volLookback: 24, targetVolPct: 1000 }, maxOrderNotional: 1e9 }, closes: close });
    const r = await e.size({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', riskPct: 0.5 });
    expect(calls).toEqual([{ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', need: 25 }]);
    const sigma = Math.log(1.01) * Math.sqrt(24 / 23) * Math.sqrt(24);
    expect(r.method).toBe('volatility');
    expect(r.notional).toBeCloseTo(500 / sigma, 6);
    expect(r.amount).toBeCloseTo(500 / sigma / 50_000, 12);
  });

  it('kelly without enough trades refuses; a risk% above maxRiskPct is refused before anything is read', async () => {
    const { engine: e } = engine({ settings: { sizing: { method: 'kelly' } } });
    await expect(e.size({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', riskPct: 1 })).rejects.toThrow(/needs at least 30 closed trades .* there are 0/);
    await expect(e.size({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', riskPct: 50 })).rejects.toThrow('risk 50 % is above the most a sizing allows (5 %, sizing.maxRiskPct)');
  });

  it('a balance the market cannot price is an error naming it, not a zero', async () => {
    const { engine: e } = engine({ balances: [{ currency: 'XYZ', free: 1, used: 0, total: 1 }] });
    await expect(e.size({ exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', riskPct: 1, stopPrice: 48_000 })).rejects.toThrow(
      'cannot value XYZ in USDT: no price for XYZ/USDT or USDT/XYZ on binance',
    );
  });
});
