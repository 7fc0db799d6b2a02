import { existsSync } from 'node:fs';
import path from 'node:path';
import type Keyv from 'keyv';
import type { Logger } from 'pino';
import type { Clock } from '../kernel/clock.js';
import type { MarketConfig } from '../kernel/config/schema.js';
import type { LiveSourceObserver } from './live/live-source.js';
import { MarketData } from './service.js';

export interface OpenMarketDeps {
  clock: Clock;
  logger: Logger;
  /** the kernel store's "market" namespace (read-through cache for live data) */
  cache: Keyv;
  /** relative market.dir resolves against this */
  cwd: string;
  /** metrics (src/ops): exchange errors and circuit changes of the live source */
  observe?: LiveSourceObserver;
}

/** Which source the config asks for: replay when a recorded-data dir is given (auto), else live. */
export function marketSourceKind(config: MarketConfig): 'live' | 'replay' {
  if (config.source !== 'auto') return config.source;
  return config.dir !== null ? 'replay' : 'live';
}

/**
 * The MarketData service on the configured source. The live source loads no ccxt code until
 * the first request; the replay source indexes the recorded files (names only) here.
 */
export async function openMarket(config: MarketConfig, deps: OpenMarketDeps): Promise<MarketData> {
  const kind = marketSourceKind(config);
  const log = deps.logger.child({ part: 'market' });
  if (kind === 'replay') {
    if (config.dir === null) throw new Error('market.source is replay but no market.dir / DESKBOT_MARKET_DIR is set');
    const dir = path.resolve(deps.cwd, config.dir);
    if (!existsSync(dir)) throw new Error(`market.dir ${dir} does not exist (set DESKBOT_MARKET_DIR to the recorded data, e.g. ../shared/data)`);
    const { createReplaySource } = await import('./replay/replay-source.js');
    const replayTime = config.replayTime === null ? null : Date.parse(config.replayTime);
    const source = await createReplaySource({ dir, replayTime, clock: deps.clock });
    return new MarketData({ source, config, clock: deps.clock, logger: log });
  }
  const { createLiveSource } = await import('./live/live-source.js');
  const source = createLiveSource({
    exchanges: config.exchanges,
    urls: config.urls,
    wsUrls: config.wsUrls,
    timeoutMs: config.timeoutMs,
    retries: config.retries,
    breaker: config.breaker,
    clock: deps.clock,
    logger: log,
    observe: deps.observe,
  });
  return new MarketData({ source, config, cache: deps.cache, clock: deps.clock, logger: log });
}
