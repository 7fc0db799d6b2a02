import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { clientOrderId, OrderJournal } from '../../src/kernel/orders/journal.js';
import type { Order, OrderState } from '../../src/kernel/orders/types.js';

function order(n: number, state: OrderState): Order {
  const key = `console:m${n}`;
  return {
    id: clientOrderId(key), key, exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', type: 'limit', amount: 0.01, price: 30_000, origin: 'test',
    state, broker: 'paper', requestedBy: 'tom', filled: 0, avgPrice: null, fees: 0, feeCurrency: null, fills: [],
    createdAt: n, updatedAt: n, history: [{ state, at: n }],
  };
}

describe('the order journal', () => {
  it('derives one client order id per key, in every exchange\'s client-id alphabet', () => {
    expect(clientOrderId('slack:evt-1')).toBe(clientOrderId('slack:evt-1'));
    expect(clientOrderId('slack:evt-1')).not.toBe(clientOrderId('slack:evt-2'));
    expect(clientOrderId('x')).toMatch(/^db-[0-9a-f]{24}$/);
  });

  it('claims a key once', async () => {
    const j = new OrderJournal(new Keyv());
    const id = clientOrderId('k');
    expect(await Promise.all([j.claim(id), j.claim(id), j.claim(id)])).toEqual([true, false, false]);
  });

  it('keeps the newest orders and the open ones across a restart', async () => {
    const kv = new Keyv();
    const j1 = new OrderJournal(kv);
    await j1.load();
    for (let n = 0; n < 250; n++) await j1.record(order(n, n % 50 === 0 ? 'acknowledged' : 'filled'));
    const j2 = new OrderJournal(kv);
    await j2.load();
    expect((await j2.recent(3)).map((o) => o.createdAt)).toEqual([249, 248, 247]);
    expect((await j2.recent(1000)).length).toBe(250);
    expect((await j2.open()).map((o) => o.createdAt)).toEqual([0, 50, 100, 150, 200]);
    // an order that finishes leaves the open index, also after the next restart
    await j2.record({ ...order(50, 'cancelled'), history: [{ state: 'acknowledged', at: 50 }, { state: 'cancelled', at: 51 }] });
    const j3 = new OrderJournal(kv);
    await j3.load();
    expect((await j3.open()).map((o) => o.createdAt)).toEqual([0, 100, 150, 200]);
    expect((await j3.recent(1000)).length).toBe(250);
  });

  it('refuses to start on an unreadable index rather than trade blind', async () => {
    const kv = new Keyv();
    await kv.set('index:open', 'garbage');
    await expect(new OrderJournal(kv).load()).rejects.toThrow('unreadable');
  });
});
