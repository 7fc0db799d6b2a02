import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCandleCsv } from '../../src/market/replay/csv.js';
import { createReplaySource } from '../../src/market/replay/replay-source.js';
import { measureThroughput, recordedDataDir } from '../lib.js';
import type { Benchmark, Metric } from '../lib.js';

/**
 * Replay load speed on the real recorded data (../shared/data, or DESKBOT_MARKET_DIR):
 *   - the CSV parser alone, from bytes in memory: binance_BTC-USDT_5m.csv (~65k rows) and all
 *     126 1h files (~690k rows), in candles/s and MB/s;
 *   - a cold replay source: index the directory (names + each file's last line for "now"),
 *     then read and parse every 1h series from disk (OS page cache warm after the first pass).
 */


function marketDir(): string {
  return recordedDataDir('replay-load', 'binance_BTC-USDT_5m.csv');
}

const MB = 1024 * 1024;

/** The obvious parser (a string per line, split, Number), as the peer figure. */
function naiveParse(buf: Buffer): number {
  const lines = buf.toString('latin1').split('\n');
  const cols = Array.from({ length: 6 }, () => new Float64Array(lines.length));
  let r = 0;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i] as string;
    if (l === '') continue;
    const f = l.split(',');
    for (let k = 0; k < 6; k++) (cols[k] as Float64Array)[r] = Number(f[k]);
    r++;
  }
  return r;
}

export const replayLoad: Benchmark = {
  name: 'replay-load',
  description: 'recorded-candle CSV parsing (5m BTC file, all 1h files) and a cold replay-source load of every 1h series',
  async run(): Promise<Metric[]> {
    const dir = marketDir();

    // 1. one big file, parsed from memory
    const m5 = readFileSync(path.join(dir, 'binance_BTC-USDT_5m.csv'));
    const m5rows = parseCandleCsv(m5, 'm5').length;
    const t5 = await measureThroughput(() => parseCandleCsv(m5, 'm5'), { warmup: 5, iterations: 40 });
    const m5Secs = t5.totalMs / 1000 / t5.iterations;
    const tn = await measureThroughput(() => naiveParse(m5), { warmup: 3, iterations: 15 });
    const naivePerSec = m5rows / (tn.totalMs / 1000 / tn.iterations);

    // 2. the 126 1h files, parsed from memory
    const hourly = readdirSync(dir)
      .filter((n) => /^binance_[A-Z0-9]+-USDT_1h\.csv$/.test(n))
      .sort()
      .map((n) => ({ n, buf: readFileSync(path.join(dir, n)) }));
    const hourlyBytes = hourly.reduce((s, f) => s + f.buf.length, 0);
    const hourlyRows = hourly.reduce((s, f) => s + parseCandleCsv(f.buf, f.n).length, 0);
    const parseAll = (): number => {
      let n = 0;
      for (const f of hourly) n += parseCandleCsv(f.buf, f.n).length;
      return n;
    };
    const th = await measureThroughput(parseAll, { warmup: 2, iterations: 10 });
    const hSecs = th.totalMs / 1000 / th.iterations;

    // 3. cold source: index + tails, then every 1h series from disk
    const coldStart = process.hrtime.bigint();
    const src = await createReplaySource({ dir, replayTime: null, clock: { now: () => Date.now() } });
    const indexed = process.hrtime.bigint();
    let served = 0;
    for (const f of hourly) {
      const symbol = f.n.replace(/^binance_([A-Z0-9]+)-([A-Z0-9]+)_1h\.csv$/, '$1/$2');
      served += (await src.fetchCandles({ exchange: 'binance', symbol, timeframe: '1h', limit: 1_000_000 })).length;
    }
    const loaded = process.hrtime.bigint();
    await src.close();
    if (served !== hourlyRows) throw new Error(`replay served ${served} 1h candles, the files hold ${hourlyRows}`);
    const indexMs = Number(indexed - coldStart) / 1e6;
    const loadMs = Number(loaded - indexed) / 1e6;

    return [
      { name: 'replay-load.parse_5m_btc', value: m5rows / m5Secs, unit: 'candles/s', goal: '>=2000000', peer: 'split per line + Number()', peer_value: naivePerSec },
      { name: 'replay-load.parse_5m_btc_mbps', value: m5.length / MB / m5Secs, unit: 'MB/s' },
      { name: 'replay-load.parse_5m_btc_ms', value: m5Secs * 1000, unit: 'ms' },
      { name: 'replay-load.parse_1h_all', value: hourlyRows / hSecs, unit: 'candles/s', goal: '>=2000000' },
      { name: 'replay-load.parse_1h_all_mbps', value: hourlyBytes / MB / hSecs, unit: 'MB/s' },
      { name: 'replay-load.parse_1h_all_ms', value: hSecs * 1000, unit: 'ms' },
      { name: 'replay-load.source_index_ms', value: indexMs, unit: 'ms', goal: '<=250' },
      { name: 'replay-load.source_load_1h_all', value: hourlyRows / (loadMs / 1000), unit: 'candles/s', goal: '>=1000000' },
      { name: 'replay-load.source_load_1h_all_ms', value: loadMs, unit: 'ms' },
    ];
  },
};
