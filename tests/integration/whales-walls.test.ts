import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import whalesPlugin, { whalesConfig, type WallAlert, type WhaleFault } from '../../plugins/whales/index.js';
import { startFakeExchange, type FakeExchange, type FakeOrderBook } from '../fakes/exchange/index.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';

/**
 * The scheduled walls poll (`whales.walls`) of watched markets, through the fake Binance and the
 * real ccxt client. No order books are recorded in the shared data: the books below are
 * hand-written test inputs (TEST_BOOK_*), registered with the fake's setOrderBook.
 */

/** test input: a quiet BTC/USDT book, no level near 20,000 USDT */
const TEST_BOOK_QUIET: FakeOrderBook = {
  bids: [[30000, 0.1], [29990, 0.2], [29900, 0.1]],
  asks: [[30010, 0.1], [30020, 0.2], [30050, 0.1]],
};
/** test input: the same book with a 2 BTC bid wall (59,820 USDT) 0.3 % under the mid */
const TEST_BOOK_WALL: FakeOrderBook = {
  bids: [[30000, 0.1], [29990, 0.2], [29910, 2], [29900, 0.1]],
  asks: TEST_BOOK_QUIET.asks,
};

const SETTINGS = { walls: { minNotional: { 'BTC/USDT': 20_000 }, withinPct: 1, growPct: 25, depth: 100, relative: 5, cron: '*/5 * * * *' } };
const AT = Date.UTC(2021, 6, 17, 21, 30);

let fake: FakeExchange;
beforeAll(async () => {
  fake = await startFakeExchange();
});
afterAll(async () => fake.close());

const desks: TestDesk[] = [];
afterEach(async () => {
  fake.setOrderBook('BTC/USDT', null);
  fake.clearFaults();
  while (desks.length > 0) await desks.pop()?.kernel.stop();
});

async function liveDesk(dataDir: string): Promise<TestDesk> {
  const desk = await startDesk({
    plugins: [whalesPlugin],
    clockAt: AT,
    config: testConfig({
      dataDir,
      store: { kind: 'sqlite' },
      market: { source: 'live', exchanges: ['binance'], urls: { binance: fake.url }, timeoutMs: 3000, retries: 0, cacheTtlMs: { orderBook: 0, trades: 0 } },
      plugins: { settings: { whales: SETTINGS } },
    }),
  });
  desks.push(desk);
  return desk;
}

function listen(desk: TestDesk): { walls: WallAlert[]; faults: WhaleFault[] } {
  const got = { walls: [] as WallAlert[], faults: [] as WhaleFault[] };
  desk.kernel.events.on('wall.changed', (w) => void got.walls.push(w));
  desk.kernel.events.on('whales.fault', (f) => void got.faults.push(f));
  return got;
}

describe('walls on a schedule (whales.walls)', () => {
  it('a wall appears on one poll and is pulled on the next, across a restart: "appeared" then "pulled"', async () => {
    const shared = mkdtempSync(path.join(os.tmpdir(), 'whales-walls-sched-'));
    const a = await liveDesk(shared);
    const gotA = listen(a);
    await a.say('vic', '/watch add BTC/USDT');

    fake.setOrderBook('BTC/USDT', TEST_BOOK_QUIET);
    expect(await a.kernel.scheduler.runNow('whales.walls')).toBe(true);
    expect(gotA.walls).toEqual([]); // the first snapshot: nothing to compare with
    fake.setOrderBook('BTC/USDT', TEST_BOOK_WALL);
    await a.kernel.scheduler.runNow('whales.walls');
    expect(gotA.walls.map((w) => [w.symbol, w.change.kind, w.change.side, w.change.price])).toEqual([['BTC/USDT', 'appeared', 'bid', 29910]]);
    expect(gotA.faults).toEqual([]);
    await a.kernel.stop();
    desks.pop();

    // a new kernel on the same store: the previous snapshot (with the wall) is still there
    const b = await liveDesk(shared);
    const gotB = listen(b);
    fake.setOrderBook('BTC/USDT', TEST_BOOK_QUIET); // the wall is gone, the best bid unchanged
    await b.kernel.scheduler.runNow('whales.walls');
    expect(gotB.walls.map((w) => w.change.kind)).toEqual(['pulled']);
    const pulled = gotB.walls[0]?.change;
    expect(pulled?.side).toBe('bid');
    expect(pulled?.price).toBe(29910);
    expect(pulled?.before?.amount).toBe(2);
    expect(gotB.faults).toEqual([]);
    // nothing changed since: nothing again
    await b.kernel.scheduler.runNow('whales.walls');
    expect(gotB.walls).toHaveLength(1);
  });

  it('no book, or an exchange error: a data fault (logged and emitted), not silence; the next good poll continues', async () => {
    const desk = await liveDesk(mkdtempSync(path.join(os.tmpdir(), 'whales-walls-fault-')));
    const got = listen(desk);
    await desk.say('vic', '/watch add BTC/USDT');
    fake.setOrderBook('BTC/USDT', null); // the fake answers 404: no book
    await desk.kernel.scheduler.runNow('whales.walls');
    expect(got.faults).toHaveLength(1);
    expect(got.faults[0]?.symbol).toBe('BTC/USDT');
    expect(got.faults[0]?.message).toMatch(/^order book: /);

    fake.setOrderBook('BTC/USDT', TEST_BOOK_WALL);
    fake.inject({ path: '/api/v3/depth', fault: { kind: 'status', status: 500 } });
    await desk.kernel.scheduler.runNow('whales.walls');
    expect(got.faults).toHaveLength(2);
    expect(got.faults[1]?.message).toMatch(/^order book: .*binance/);

    await desk.kernel.scheduler.runNow('whales.walls'); // served: the first snapshot
    fake.setOrderBook('BTC/USDT', TEST_BOOK_QUIET);
    await desk.kernel.scheduler.runNow('whales.walls');
    expect(got.walls.map((w) => w.change.kind)).toEqual(['pulled']);
    expect(got.faults).toHaveLength(2);
  });

  it('the walls schedule uses walls.cron (default every minute)', async () => {
    const desk = await liveDesk(mkdtempSync(path.join(os.tmpdir(), 'whales-walls-cron-')));
    const jobs = desk.kernel.scheduler.list().map((j) => [j.name, j.cron]);
    expect(jobs).toContainEqual(['whales.walls', '*/5 * * * *']);
    expect(whalesConfig.parse({}).walls.cron).toBe('* * * * *');
    expect(whalesConfig.parse({ walls: { depth: 50 } }).walls.cron).toBe('* * * * *');
  });
});
