import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import whalesPlugin, { type WhaleAlert } from '../../plugins/whales/index.js';
import { definePlugin, type Services } from '../../src/kernel/index.js';
import type { WhaleEvent } from '../../src/whales/detector.js';
import { startFakeExchange, type FakeExchange } from '../fakes/exchange/index.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { recordedTrades, referenceEvents } from '../helpers/trades.js';

/**
 * Whale trades over a WebSocket: the real ccxt.pro binance client against the fake Binance
 * stream endpoint (tests/fakes/exchange/ws.ts), which sends the recorded XRP/ETH trades as
 * aggTrade events when the test pushes them; REST polling against the same fake is the fallback.
 */

const xrp = recordedTrades('binance_XRP-ETH_trades.csv');
type Row = (typeof xrp)[number];
const at = (i: number): Row => xrp[i] as Row;
const firstT = at(0).time;
const lastT = at(xrp.length - 1).time;
const HOUR = 3_600_000;

/** one uninterrupted detector over the whole file: what polling the same trades yields */
const reference = (absolute: number): WhaleEvent[] => referenceEvents('binance', 'XRP/ETH', xrp, absolute);

/** reaches the whales service from a test plugin that needs it */
let whales: Services['whales'] | null = null;
const probe = definePlugin({
  name: 'whales-probe',
  version: '0.0.0',
  needs: ['whales'],
  setup(ctx) {
    whales = ctx.use('whales');
  },
});
const feed = (): ReturnType<Services['whales']['feed']> => (whales as Services['whales']).feed('binance', 'XRP/ETH');

describe('whales over the fake Binance WebSocket (real ccxt.pro client), with polling as the fallback', () => {
  let fake: FakeExchange;
  const desks: TestDesk[] = [];
  beforeAll(async () => {
    fake = await startFakeExchange();
  });
  afterEach(async () => {
    while (desks.length > 0) await desks.pop()?.kernel.stop();
    fake.setNow(null);
  });
  afterAll(async () => fake.close());

  it('streamed trades give the events polling gives; a dropped stream falls back to polling with no gap and no duplicate; the stream resumes later', async () => {
    const START = 3000; // polled by REST before the stream
    const STREAM_END = 9000; // streamed: [START, STREAM_END), in chunks
    const CHUNK = 500;
    const t0 = at(START - 1).time;
    const tDrop = at(STREAM_END - 1).time + 1;
    const end = lastT + 60_000;
    // the stream is not tried again before the final poll, only after it
    const retry = end - tDrop + HOUR;
    const settings = { thresholds: { 'XRP/ETH': 5 }, maxPages: 500, lookbackMs: t0 + 1 - firstT + 1, streamRetryMs: retry, streamRetryMaxMs: retry };

    fake.setNow(t0);
    const desk = await startDesk({
      plugins: [whalesPlugin, probe],
      clockAt: t0 + 1,
      config: testConfig({
        dataDir: mkdtempSync(path.join(os.tmpdir(), 'whales-ws-')),
        store: { kind: 'sqlite' },
        market: { source: 'live', exchanges: ['binance'], urls: { binance: fake.url }, wsUrls: { binance: fake.ws.url }, timeoutMs: 3000, retries: 0, cacheTtlMs: { orderBook: 0, trades: 0 } },
        plugins: { settings: { whales: settings } },
      }),
    });
    desks.push(desk);
    const alerts: WhaleAlert[] = [];
    desk.kernel.events.on('whale.detected', (a) => void alerts.push(a));
    const moveTo = (t: number): void => {
      fake.setNow(t);
      desk.clock.advance(t + 1 - desk.clock.now());
    };

    // 1. the first poll starts the stream and reads up to now by REST
    await desk.say('vic', '/watch add XRP/ETH');
    await desk.kernel.scheduler.runNow('whales.poll');
    await fake.ws.waitForSubscriber('XRP/ETH');
    expect(fake.ws.subscribeLog).toEqual(['xrpeth@aggTrade']);
    let f = await feed();
    expect(f.streaming).toBe(true);
    const upTo = (t: number): number => xrp.filter((r) => r.time <= t).length;
    expect(f.processed).toBe(upTo(t0)); // every trade up to t0
    const polled = alerts.length;

    // 2. the stream: pushed from t0 on (the trades at t0 again: already read by REST, so dropped)
    fake.ws.seek('XRP/ETH', t0);
    const restBefore = fake.requestsTo('/api/v3/aggTrades').length;
    let pushed = 0;
    for (let i = START; i < STREAM_END; i += CHUNK) {
      const to = Math.min(STREAM_END, i + CHUNK);
      moveTo(at(to - 1).time); // the exchange (REST) knows the trades that happened, too
      pushed += fake.ws.push('XRP/ETH', to - (xrp.length - fake.ws.remaining('XRP/ETH'))).length;
      await vi.waitFor(async () => expect((await feed()).cursor?.time).toBe(at(to - 1).time), { timeout: 10_000, interval: 20 });
    }
    expect(pushed).toBeGreaterThanOrEqual(STREAM_END - START);
    f = await feed();
    expect(f.processed).toBe(upTo(at(STREAM_END - 1).time)); // REST + stream, each trade once
    // REST only for the catch-up before the first streamed batch (up to the first chunk's end); the rest came over the socket
    const restDuringStream = fake.requestsTo('/api/v3/aggTrades').slice(restBefore);
    expect(restDuringStream.length).toBeGreaterThan(0);
    for (const r of restDuringStream) expect(Number(r.query['startTime'])).toBeLessThanOrEqual(at(START + CHUNK - 1).time);
    const streamed = alerts.length - polled;
    expect(streamed).toBeGreaterThan(3);

    // 3. the connection drops: logged, polled at once (nothing new yet), then the poll reads the rest by REST
    fake.ws.drop();
    await vi.waitFor(async () => expect((await feed()).streaming).toBe(false), { timeout: 10_000, interval: 20 });
    fake.setNow(null);
    desk.clock.advance(end - desk.clock.now());
    const restAtDrop = fake.requestsTo('/api/v3/aggTrades').length;
    await desk.kernel.scheduler.runNow('whales.poll');
    f = await feed();
    expect(f.streaming).toBe(false); // backing off: polling
    expect(fake.requestsTo('/api/v3/aggTrades').length - restAtDrop).toBeGreaterThan(5);
    expect(f.processed).toBe(xrp.length); // no gap, no duplicate

    // the same events as one uninterrupted detector over the file (the reference of the polling tests)…
    const ids = alerts.map((a) => a.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(reference(5).map((e) => e.id));
    // …and exactly the events of polling the same trades by REST only (stream off)
    const polling = await startDesk({
      plugins: [whalesPlugin],
      clockAt: end,
      config: testConfig({
        dataDir: mkdtempSync(path.join(os.tmpdir(), 'whales-poll-')),
        store: { kind: 'sqlite' },
        market: { source: 'live', exchanges: ['binance'], urls: { binance: fake.url }, wsUrls: { binance: fake.ws.url }, timeoutMs: 3000, retries: 0, cacheTtlMs: { trades: 0 } },
        plugins: { settings: { whales: { ...settings, stream: false, lookbackMs: end - firstT + 1 } } },
      }),
    });
    desks.push(polling);
    const polled2: WhaleAlert[] = [];
    polling.kernel.events.on('whale.detected', (a) => void polled2.push(a));
    await polling.say('vic', '/watch add XRP/ETH');
    await polling.kernel.scheduler.runNow('whales.poll');
    expect(alerts.map((a) => a.event)).toEqual(polled2.map((a) => a.event));
    expect(fake.ws.subscribeLog.length).toBe(1); // stream off: no subscription from the polling desk

    // 4. after the back-off the poll starts the stream again
    desk.clock.advance(retry);
    fake.setNow(null);
    await desk.kernel.scheduler.runNow('whales.poll');
    await fake.ws.waitForSubscriber('XRP/ETH');
    expect((await feed()).streaming).toBe(true);
    expect(fake.ws.subscribeLog).toEqual(['xrpeth@aggTrade', 'xrpeth@aggTrade']);
    expect(alerts.map((a) => a.event.id)).toEqual(ids); // nothing again
  });

  it('without market.wsUrls for a redirected exchange: no stream (nothing leaks to the real exchange), polling as before', async () => {
    const desk = await startDesk({
      plugins: [whalesPlugin, probe],
      clockAt: lastT + 60_000,
      config: testConfig({
        dataDir: mkdtempSync(path.join(os.tmpdir(), 'whales-ws-')),
        store: { kind: 'sqlite' },
        market: { source: 'live', exchanges: ['binance'], urls: { binance: fake.url }, timeoutMs: 3000, retries: 0, cacheTtlMs: { trades: 0 } },
        plugins: { settings: { whales: { thresholds: { 'XRP/ETH': 5 }, lookbackMs: 2 * HOUR } } },
      }),
    });
    desks.push(desk);
    await desk.say('vic', '/watch add XRP/ETH');
    const before = fake.ws.subscribeLog.length;
    await desk.kernel.scheduler.runNow('whales.poll');
    const f = await feed();
    expect(f.streaming).toBe(false);
    expect(f.processed).toBeGreaterThan(0);
    expect(fake.ws.subscribeLog.length).toBe(before);
  });
});
