import type { OrderRequest, Requester } from '../../src/kernel/index.js';
import { sharedDataDir } from './recorded.js';
import { testConfig } from './kernel.js';

/** The desk the crash test kills and restarts: SQLite in dataDir, recorded prices, paper broker. */
export function crashConfig(dataDir: string) {
  return testConfig({ dataDir, store: { kind: 'sqlite' }, market: { dir: sharedDataDir() }, trading: { pollMs: 0 } });
}

export const CRASH_ORDER: OrderRequest = { exchange: 'binance', symbol: 'BTC/USDT', side: 'buy', type: 'market', amount: 0.01, key: 'console:crash-1', origin: 'test' };

export const CRASH_REQUESTER: Requester = {
  principal: { platform: 'console', userId: 'tom', person: 'tom', displayName: 'Tom Trader', roles: ['trader'] },
  channel: { platform: 'console', channelId: 'terminal' },
};
