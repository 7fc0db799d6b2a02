import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import whalesPlugin, { type WhaleAlert, type WhaleFault } from '../../plugins/whales/index.js';
import type { WhaleEvent } from '../../src/whales/detector.js';
import { startFakeKraken, type FakeKraken } from '../fakes/exchange/kraken.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { recordedTrades, referenceEvents } from '../helpers/trades.js';

/**
 * The whales plugin on the recorded Kraken BCH/EUR trades (486 prints, 2023-01-02), served by
 * the fake Kraken (tests/fakes/exchange/kraken.ts) through the real ccxt `kraken` client
 * (market.urls.kraken). Kraken's export has no side and no trade id: the fake sends an empty
 * side marker (kept unknown by the live source, never guessed) and the row number as the id
 * (zero-padded, so ccxt's (time, id-string) sort keeps the file's order).
 */

/** the file itself, read independently of the fake and of the desk */
// the fake's trade id: the row number, zero-padded to the width of the count (see kraken.ts)
const rows = recordedTrades('kraken_BCH-EUR_trades.csv', { idWidth: 3 });
const firstT = (rows[0] as (typeof rows)[number]).time;
const lastT = (rows[rows.length - 1] as (typeof rows)[number]).time;
const midT = (rows[243] as (typeof rows)[number]).time;
const byCost = [...rows].sort((x, y) => y.cost - x.cost);

/** one uninterrupted detector over the whole file (pure library, same rules, side unknown) */
const reference = (absolute: number): WhaleEvent[] => referenceEvents('kraken', 'BCH/EUR', rows, absolute);

let fake: FakeKraken;
beforeAll(async () => {
  fake = await startFakeKraken();
});
afterAll(async () => fake.close());

const desks: TestDesk[] = [];
afterEach(async () => {
  while (desks.length > 0) await desks.pop()?.kernel.stop();
});

async function krakenDesk(clockAt: number, dataDir: string, settings: Record<string, unknown>): Promise<TestDesk> {
  const desk = await startDesk({
    plugins: [whalesPlugin],
    clockAt,
    config: testConfig({
      dataDir,
      store: { kind: 'sqlite' },
      market: { source: 'live', exchanges: ['kraken'], defaultExchange: 'kraken', quotes: { kraken: 'EUR' }, urls: { kraken: fake.url }, timeoutMs: 3000, retries: 0, cacheTtlMs: { orderBook: 0, trades: 0 } },
      plugins: { settings: { whales: settings } },
    }),
  });
  desks.push(desk);
  return desk;
}

function listen(desk: TestDesk): { alerts: WhaleAlert[]; faults: WhaleFault[] } {
  const got = { alerts: [] as WhaleAlert[], faults: [] as WhaleFault[] };
  desk.kernel.events.on('whale.detected', (a) => void got.alerts.push(a));
  desk.kernel.events.on('whales.fault', (f) => void got.faults.push(f));
  return got;
}

describe('whales on kraken BCH/EUR through the fake Kraken and the real ccxt client', () => {
  it('the file: 486 trades, no side, times in whole seconds', () => {
    expect(rows).toHaveLength(486);
    expect(rows.every((r) => r.time % 1000 === 0)).toBe(true);
  });

  it('/whales BCH/EUR finds the largest prints of the file (side unknown, not guessed)', async () => {
    const fifth = (byCost[4] as (typeof rows)[number]).cost;
    fake.setNow(null);
    const desk = await krakenDesk(lastT + 60_000, mkdtempSync(path.join(os.tmpdir(), 'whales-kraken-')), { thresholds: { 'kraken:BCH/EUR': fifth } });
    const out = await desk.say('vic', '/whales BCH/EUR');
    expect(out).toContain('486 trades');
    const table = out.split('\n').filter((l) => /^\s*\d{4}-/.test(l));
    const events = table.map((l) => l.trim().split(/\s{2,}/)).map((c) => ({ time: Date.parse(`${(c[0] as string).replace(' ', 'T')}Z`), side: c[1], notional: Number((c[4] as string).replace(/,/g, '')) }));
    expect(events.length).toBeGreaterThanOrEqual(1);
    for (const e of events) expect(e.side).toBe('?');
    // every one of the five largest prints lies in a listed event starting at most 10 s before it
    for (const big of byCost.slice(0, 5)) {
      expect(events.some((e) => e.time <= big.time && big.time - e.time <= 10_000 && e.notional >= Math.floor(big.cost * 100) / 100 - 0.01), `print ${big.id}`).toBe(true);
    }
    expect(events[0]?.notional).toBeGreaterThanOrEqual(Math.floor((byCost[0] as (typeof rows)[number]).cost) - 0.01);
    expect(fake.requestsTo('/0/public/Trades').length).toBeGreaterThan(0);
    expect(fake.requestsTo('/0/public/AssetPairs').length).toBeGreaterThan(0);
  }, 60_000); // ccxt's kraken rate limiter: 1 s between public requests

  it('a restart in the middle (and a Kraken error after it): no duplicate, no gap — the union equals one uninterrupted run', async () => {
    const absolute = (byCost[29] as (typeof rows)[number]).cost;
    const settings = { thresholds: { 'kraken:BCH/EUR': absolute }, pageLimit: 100 }; // ≥ the 54 prints the file has in one second (ccxt sends kraken's since in whole seconds)
    const shared = mkdtempSync(path.join(os.tmpdir(), 'whales-kraken-restart-'));
    fake.setNow(midT);
    const a = await krakenDesk(midT, shared, { ...settings, lookbackMs: midT - firstT + 1 });
    const gotA = listen(a);
    expect(await a.say('vic', '/watch add BCH/EUR')).toContain('Watching BCH/EUR (kraken)');
    await a.kernel.scheduler.runNow('whales.poll');
    const servedA = rows.filter((r) => r.time <= midT).length;
    expect(await a.say('vic', '/watch list')).toMatch(new RegExp(`kraken BCH/EUR\\s+\\S+ \\S+\\s+${servedA}\\s+ok`));
    await a.kernel.stop();
    desks.pop();

    fake.setNow(null);
    const end = lastT + 60_000;
    const b = await krakenDesk(end, shared, { ...settings, lookbackMs: end - firstT + 1 });
    const gotB = listen(b);
    fake.inject({ path: '/0/public/Trades', fault: { kind: 'krakenError', errors: ['EService:Unavailable'] } });
    await b.kernel.scheduler.runNow('whales.poll');
    expect(gotB.faults).toHaveLength(1);
    expect(gotB.faults[0]?.symbol).toBe('BCH/EUR');
    expect(await b.say('vic', '/watch list')).toMatch(/fault: /);
    await b.kernel.scheduler.runNow('whales.poll');
    await b.kernel.scheduler.runNow('whales.poll'); // nothing new: nothing again
    // every recorded trade read exactly once over both kernels
    expect(await b.say('vic', '/watch list')).toMatch(/kraken BCH\/EUR\s+\S+ \S+\s+486\s+ok/);

    const c = await krakenDesk(end, mkdtempSync(path.join(os.tmpdir(), 'whales-kraken-one-')), { ...settings, lookbackMs: end - firstT + 1 });
    const gotC = listen(c);
    await c.say('vic', '/watch add BCH/EUR');
    await c.kernel.scheduler.runNow('whales.poll');

    const all = [...gotA.alerts, ...gotB.alerts];
    const ids = all.map((x) => x.event.id);
    expect(gotA.alerts.length).toBeGreaterThan(0);
    expect(gotB.alerts.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
    const ref = reference(absolute);
    expect(ref.length).toBeGreaterThan(5);
    expect(ids).toEqual(ref.map((e) => e.id));
    expect(gotC.alerts.map((x) => x.event.id)).toEqual(ids);
    const byId = new Map(ref.map((e) => [e.id, e]));
    for (const x of all) {
      const r = byId.get(x.event.id) as WhaleEvent;
      expect(x.event.count).toBe(r.count);
      expect(x.event.notional).toBeCloseTo(r.notional, 9);
      expect(x.event.side).toBe(null);
    }
    // the largest print of the file is in one of the events
    const big = byCost[0] as (typeof rows)[number];
    expect(all.some((x) => x.event.firstTime <= big.time && x.event.lastTime >= big.time && x.event.notional >= big.cost - 1e-9)).toBe(true);
  }, 90_000); // ccxt's kraken rate limiter spaces public requests 1 s apart (three kernels, ~25 requests)
});
