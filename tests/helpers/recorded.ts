import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { timeframeMs } from '../../src/market/timeframes.js';
import { fromRows, type Candles } from '../../src/market/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The recorded market data (../shared/data, or DESKBOT_MARKET_DIR); a clear failure when it is missing. */
export function sharedDataDir(): string {
  const dir = process.env.DESKBOT_MARKET_DIR ? path.resolve(process.env.DESKBOT_MARKET_DIR) : path.resolve(repoRoot, '..', 'shared', 'data');
  if (!existsSync(path.join(dir, 'SOURCES.md'))) {
    throw new Error(`recorded market data not found at ${dir}: these tests need ../shared/data (or DESKBOT_MARKET_DIR pointing at it)`);
  }
  return dir;
}

/** A recorded candle file read plainly (independent of the product's CSV parser), e.g. ('binance', 'BTC/USDT', '1h'). */
export function recordedCandles(exchange: string, symbol: string, timeframe: string): Candles {
  const file = path.join(sharedDataDir(), `${exchange}_${symbol.replace('/', '-')}_${timeframe}.csv`);
  const rows = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').map(Number));
  return fromRows({ exchange, symbol, timeframe, timeframeMs: timeframeMs(timeframe) as number, source: 'replay' }, rows);
}
