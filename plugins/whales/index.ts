import { z } from 'zod';
import {
  arg,
  block,
  defineCommand,
  definePlugin,
  imbalance,
  readDuration,
  reply,
  tradeColumns,
  trackWalls,
  utcSecond,
  WhaleDetector,
  type Alert,
  type BandImbalance,
  type Block,
  type DetectorSettings,
  type DetectorSnapshot,
  type PluginContext,
  type Side,
  type Trade,
  type Wall,
  type WallChange,
  type WhaleEvent,
} from '../../src/kernel/index.js';

/**
 * Whales: large trades and bursts from each watched market's trade feed, order-book walls and
 * depth imbalance. Detection rules and clustering: src/whales/detector.ts; walls: src/whales/walls.ts.
 *
 * Polling (schedule `whales.poll`, every minute by default): for every market on any channel's
 * watchlist, trades are read through ctx.market.trades from the persisted cursor (last processed
 * trade time + the ids processed at that exact millisecond), in pages, and fed to the market's
 * detector, whose whole state (rolling window, open bursts) is snapshotted in the store with the
 * cursor. So a restart continues exactly where the last poll stopped: nothing is missed and
 * nothing is processed twice. New events are written to an outbox in the same store write as the
 * cursor, then emitted as `whale.detected`, then marked as sent (recent ids kept to refuse a
 * repeat); an outbox left by a crash is sent on the next poll. A failed fetch is a data fault:
 * logged, stored (shown by /whales and /watch list) and emitted as `whales.fault` — never silence.
 *
 * Trade streams (`stream`, on by default): where the market source has them (live, ccxt.pro
 * watchTrades), the poll starts a WebSocket per watched market, and streamed trades go through
 * the same path (cursor, detector, outbox), so a stream, a poll and a restart dedupe by the
 * cursor. The poll that starts a stream still reads by REST, and so does one more catch-up
 * before the stream's first batch: nothing between the cursor and the first streamed trade is
 * missed. While a stream runs, the poll only finishes quiet bursts. A stream that fails (or an
 * exchange without one) is logged and the market is polled at once and on every poll; the stream
 * is tried again after streamRetryMs × 2^(failures − 1), at most streamRetryMaxMs.
 *
 * Severity: event notional as a share of the market's 24 h volume (quote volume from the ticker,
 * else base size over base volume): ≥ severity.high → high, ≥ severity.medium → medium, else low.
 * Without a 24 h volume: by multiples of the absolute threshold (≥ 10× high, ≥ 3× medium), or
 * without one by multiples of the rolling median (≥ 10·k high, ≥ 3·k medium). The basis is stated.
 *
 * `/whales <symbol>` scans the market's recent trades on demand (and adds stored events of a
 * watched market); `/whales` alone lists stored events of this channel's watchlist.
 */

export type Severity = 'low' | 'medium' | 'high';

export interface WhaleAlert {
  event: WhaleEvent;
  severity: Severity;
  /** how the severity was judged, e.g. "0.42 % of 24 h quote volume" */
  basis: string;
  /** channels ("platform:channelId") watching this market */
  channels: string[];
}

export interface WhaleFault {
  exchange: string;
  symbol: string;
  at: number;
  message: string;
}

export interface WallAlert {
  exchange: string;
  symbol: string;
  change: WallChange;
  at: number;
}

declare module '../../src/kernel/index.js' {
  interface KernelEvents {
    'whale.detected': WhaleAlert;
    'whales.fault': WhaleFault;
    'wall.changed': WallAlert;
  }
}

const HOUR = 3_600_000;

export const whalesConfig = z
  .object({
    /** absolute whale threshold in quote currency per symbol: { "XRP/ETH": 5, "binance:BTC/USDT": 250000 } */
    thresholds: z.record(z.string(), z.number().positive()).default({}),
    /** k × rolling median notional (null: off) */
    k: z.number().positive().nullable().default(50),
    /** z-score on log notional (null: off) */
    z: z.number().positive().nullable().default(3),
    window: z.number().int().min(10).max(100_000).default(1000),
    minHistory: z.number().int().min(1).max(100_000).default(200),
    clusterMs: z.number().int().min(0).max(600_000).default(2000),
    maxClusterMs: z.number().int().min(0).max(3_600_000).default(10_000),
    cron: z.string().min(9).default('* * * * *'),
    timezone: z.string().optional(),
    /** trades per request and requests per market per poll */
    pageLimit: z.number().int().min(1).max(1000).default(1000),
    maxPages: z.number().int().min(1).max(1000).default(50),
    /** a newly watched market starts this far back */
    lookbackMs: z.number().int().min(0).default(15 * 60_000),
    /** bursts are finished only this long after their last print (late prints on a live feed) */
    lagMs: z.number().int().min(0).default(5000),
    /** trade streams (WebSocket) where the market source has them; polling is the fallback */
    stream: z.boolean().default(true),
    /** after a stream failure: polling, and the stream again after streamRetryMs × 2^(failures − 1), at most streamRetryMaxMs */
    streamRetryMs: z.number().int().min(0).default(30_000),
    streamRetryMaxMs: z.number().int().min(0).default(15 * 60_000),
    /** events kept per market for /whales */
    keepEvents: z.number().int().min(10).max(100_000).default(500),
    /** /whales <symbol> scans this far back from the newest trade when no since is given */
    scanMs: z.number().int().min(60_000).default(24 * HOUR),
    severity: z.object({ high: z.number().positive().default(0.01), medium: z.number().positive().default(0.001) }).strict().default({ high: 0.01, medium: 0.001 }),
    walls: z
      .object({
        /** quote notional of a wall per symbol; otherwise `relative` × the median level notional within the band */
        minNotional: z.record(z.string(), z.number().positive()).default({}),
        relative: z.number().positive().default(5),
        withinPct: z.number().positive().max(50).default(2),
        growPct: z.number().positive().default(25),
        depth: z.number().int().min(5).max(5000).default(100),
        /** the walls poll of watched markets (schedule `whales.walls`) */
        cron: z.string().min(9).default('* * * * *'),
      })
      .strict()
      .default({ minNotional: {}, relative: 5, withinPct: 2, growPct: 25, depth: 100, cron: '* * * * *' }),
  })
  .strict();

export type WhalesConfig = z.output<typeof whalesConfig>;

/** what the store holds per watched market */
export interface MarketState {
  cursor: { time: number; ids: string[] } | null;
  detector: DetectorSnapshot | null;
  /** recently emitted event ids */
  seen: string[];
  /** events stored but not yet emitted */
  outbox: WhaleAlert[];
  fault: WhaleFault | null;
  lastPoll: number | null;
  processed: number;
}

const SEEN_KEEP = 2000;
const mkey = (exchange: string, symbol: string): string => `${exchange}:${symbol}`;

export function detectorSettings(cfg: WhalesConfig, exchange: string, symbol: string): DetectorSettings {
  const absolute = cfg.thresholds[`${exchange}:${symbol}`] ?? cfg.thresholds[symbol] ?? null;
  return { absolute, k: cfg.k, z: cfg.z, window: cfg.window, minHistory: Math.min(cfg.minHistory, cfg.window), clusterMs: cfg.clusterMs, maxClusterMs: cfg.maxClusterMs };
}

export function severityOf(
  e: WhaleEvent,
  volume: { quote: number | null; base: number | null } | null,
  s: DetectorSettings,
  levels: { high: number; medium: number },
): { severity: Severity; basis: string } {
  const grade = (x: number, hi: number, med: number): Severity => (x >= hi ? 'high' : x >= med ? 'medium' : 'low');
  if (volume?.quote != null && volume.quote > 0) {
    const share = e.notional / volume.quote;
    return { severity: grade(share, levels.high, levels.medium), basis: `${pct(share * 100)} of 24 h quote volume` };
  }
  if (volume?.base != null && volume.base > 0) {
    const share = e.size / volume.base;
    return { severity: grade(share, levels.high, levels.medium), basis: `${pct(share * 100)} of 24 h base volume` };
  }
  if (s.absolute !== null) {
    const m = e.notional / s.absolute;
    return { severity: grade(m, 10, 3), basis: `${m.toFixed(1)}× the absolute threshold (no 24 h volume)` };
  }
  if (e.median !== null && e.median > 0 && s.k !== null) {
    const m = e.notional / e.median;
    return { severity: grade(m, 10 * s.k, 3 * s.k), basis: `${Math.round(m)}× the rolling median print (no 24 h volume)` };
  }
  return { severity: 'low', basis: 'no 24 h volume and no reference size' };
}

const pct = (x: number): string => `${x.toFixed(x >= 1 ? 2 : 3)} %`;
const fmt = (x: number): string => (x === 0 ? '0' : Math.abs(x) >= 1000 ? x.toLocaleString('en-US', { maximumFractionDigits: 2 }) : Number(x.toPrecision(6)).toString());

function eventRows(events: readonly WhaleEvent[], sev: Map<string, Severity>): string[][] {
  return events.map((e) => [
    utcSecond(e.firstTime),
    e.side ?? '?',
    fmt(e.size),
    fmt(e.vwap),
    fmt(e.notional),
    String(e.count),
    `${e.impactPct >= 0 ? '+' : ''}${e.impactPct.toFixed(3)} %`,
    sev.get(e.id) ?? '',
  ]);
}

const EVENT_HEADER = ['time (UTC)', 'side', 'size', 'price (vwap)', 'notional', 'prints', 'impact', 'severity'];
const EVENT_ALIGN: Array<'left' | 'right'> = ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'left'];

const fresh = (): MarketState => ({ cursor: null, detector: null, seen: [], outbox: [], fault: null, lastPoll: null, processed: 0 });

/** the market fetch and trade filtering logic, shared by polling and on-demand scans */
export async function readTrades(
  ctx: Pick<PluginContext<unknown>, 'market'>,
  m: { exchange: string; symbol: string },
  cursor: { time: number; ids: string[] },
  o: { pageLimit: number; maxPages: number; until: number },
  onBatch: (trades: Trade[], cursorAfter: { time: number; ids: string[] }) => void,
): Promise<{ cursor: { time: number; ids: string[] }; pages: number; caughtUp: boolean; count: number }> {
  let cur = { time: cursor.time, ids: [...cursor.ids] };
  let count = 0;
  for (let page = 1; page <= o.maxPages; page++) {
    const got = await ctx.market.trades({ exchange: m.exchange, symbol: m.symbol, since: cur.time, limit: o.pageLimit });
    const seen = new Set(cur.ids);
    const batch = got.filter((t) => t.time > cur.time || (t.time === cur.time && !seen.has(t.id)));
    for (let i = 1; i < batch.length; i++) {
      if ((batch[i] as Trade).time < (batch[i - 1] as Trade).time) throw new Error(`${m.exchange} ${m.symbol}: trades out of time order in one answer`);
    }
    if (batch.length === 0) {
      if (got.length >= o.pageLimit) throw new Error(`${m.exchange} ${m.symbol}: more than ${o.pageLimit} trades at ${utcSecond(cur.time)}; the feed cannot be paged past them`);
      // Nothing new from `since` on. Some exchanges answer at most one hour per request
      // (binance: startTime..startTime+1h, both inclusive), so "nothing new" may only mean
      // "nothing new in that hour": step over it while more than an hour is left before `until`.
      // The hour's last millisecond was in the answer, so its trades are marked as seen.
      if (o.until - cur.time > HOUR) {
        const t = cur.time + HOUR;
        cur = { time: t, ids: got.filter((x) => x.time === t).map((x) => x.id) };
        continue;
      }
      return { cursor: cur, pages: page, caughtUp: true, count };
    }
    const last = batch[batch.length - 1] as Trade;
    const ids = last.time === cur.time ? cur.ids : [];
    for (let i = batch.length - 1; i >= 0 && (batch[i] as Trade).time === last.time; i--) ids.push((batch[i] as Trade).id);
    cur = { time: last.time, ids };
    count += batch.length;
    onBatch(batch, cur);
    // a short page is not proof of being caught up (one-hour windows): the next request tells
  }
  return { cursor: cur, pages: o.maxPages, caughtUp: false, count };
}

/**
 * trades pushed by a stream, taken like one page of readTrades: those after the cursor (at the
 * cursor's millisecond only ids not in it; each id once), which must be in time order
 */
export function takePushed(
  m: { exchange: string; symbol: string },
  cursor: { time: number; ids: string[] },
  pushed: { trades: Trade[]; caughtUp: boolean },
  onBatch: (trades: Trade[], cursorAfter: { time: number; ids: string[] }) => void,
): { cursor: { time: number; ids: string[] }; pages: number; caughtUp: boolean; count: number } {
  const seen = new Set(cursor.ids);
  const batch: Trade[] = [];
  for (const t of pushed.trades) {
    if (t.time < cursor.time || seen.has(t.id)) continue;
    seen.add(t.id);
    batch.push(t);
  }
  for (let i = 1; i < batch.length; i++) {
    if ((batch[i] as Trade).time < (batch[i - 1] as Trade).time) throw new Error(`${m.exchange} ${m.symbol}: streamed trades out of time order`);
  }
  const last = batch[batch.length - 1];
  if (last === undefined) return { cursor, pages: 0, caughtUp: pushed.caughtUp, count: 0 };
  const ids = last.time === cursor.time ? [...cursor.ids] : [];
  for (let i = batch.length - 1; i >= 0 && (batch[i] as Trade).time === last.time; i--) ids.push((batch[i] as Trade).id);
  const after = { time: last.time, ids };
  onBatch(batch, after);
  return { cursor: after, pages: 0, caughtUp: pushed.caughtUp, count: batch.length };
}

export default definePlugin({
  name: 'whales',
  version: '0.1.0',
  config: whalesConfig,
  setup(ctx) {
    const cfg = ctx.config;
    const locks = new Map<string, Promise<unknown>>();
    const serial = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
      const before = locks.get(key) ?? Promise.resolve();
      const run = before.then(fn, fn);
      const tail = run.catch(() => undefined);
      locks.set(key, tail);
      try {
        return await run;
      } finally {
        if (locks.get(key) === tail) locks.delete(key);
      }
    };

    const channelKey = (c: { platform: string; channelId: string }): string => `${c.platform}:${c.channelId}`;
    const watchlists = async (): Promise<Record<string, string[]>> => ((await ctx.store.get('watchlists')) as Record<string, string[]> | undefined) ?? {};
    const loadState = async (k: string): Promise<MarketState> => ((await ctx.store.get(`state:${k}`)) as MarketState | undefined) ?? fresh();
    const loadEvents = async (k: string): Promise<WhaleAlert[]> => ((await ctx.store.get(`events:${k}`)) as WhaleAlert[] | undefined) ?? [];

    const volume24h = async (exchange: string, symbol: string): Promise<{ quote: number | null; base: number | null } | null> => {
      try {
        const t = await ctx.market.ticker({ exchange, symbol });
        return { quote: t.quoteVolume24h, base: t.baseVolume24h };
      } catch (err) {
        ctx.log.debug({ err, exchange, symbol }, 'no 24 h volume for whale severity');
        return null;
      }
    };

    /** one poll of one market: read new trades from the cursor (or take those a stream pushed), detect, store, emit */
    const pollMarket = (k: string, channels: string[], pushed?: { trades: Trade[]; caughtUp: boolean }): Promise<{ events: number; trades: number; fault: string | null }> =>
      serial(k, async () => {
        const [exchange, ...rest] = k.split(':');
        const symbol = rest.join(':');
        const m = { exchange: exchange as string, symbol };
        const st = await loadState(k);
        const s = detectorSettings(cfg, m.exchange, m.symbol);
        const det = st.detector ? WhaleDetector.restore(m.exchange, m.symbol, s, st.detector) : new WhaleDetector(m.exchange, m.symbol, s);
        const now = ctx.market.now();
        const cursor = st.cursor ?? { time: now - cfg.lookbackMs, ids: [] };
        const found: WhaleEvent[] = [];
        let fault: WhaleFault | null = null;
        // progress is tracked batch by batch: after a fault mid-way the cursor matches what the detector saw
        const result = { cursor, count: 0 };
        try {
          const onBatch = (batch: Trade[], after: { time: number; ids: string[] }): void => {
            det.process(tradeColumns(batch), found);
            result.cursor = after;
            result.count += batch.length;
          };
          // streamed trades before the market's first poll: REST reads them (and what came before)
          const r =
            pushed === undefined || st.cursor === null
              ? await readTrades(ctx, m, cursor, { pageLimit: cfg.pageLimit, maxPages: cfg.maxPages, until: now }, onBatch)
              : takePushed(m, cursor, pushed, onBatch);
          result.cursor = r.cursor; // may have stepped over an empty hour
          // bursts no later print can join any more are finished
          // (up to now − lag when caught up; else only up to the last trade read)
          det.expire(r.caughtUp ? now - cfg.lagMs : result.cursor.time, found);
        } catch (err) {
          fault = { exchange: m.exchange, symbol: m.symbol, at: ctx.clock.now(), message: err instanceof Error ? err.message : String(err) };
        }
        const seen = new Set(st.seen);
        const newEvents = found.filter((e) => !seen.has(e.id) && !st.outbox.some((o) => o.event.id === e.id));
        const vol = newEvents.length > 0 ? await volume24h(m.exchange, m.symbol) : null;
        const alerts: WhaleAlert[] = newEvents.map((event) => ({ event, ...severityOf(event, vol, s, cfg.severity), channels }));
        const outbox = [...st.outbox, ...alerts];
        const next: MarketState = {
          cursor: result.cursor,
          detector: det.snapshot(),
          seen: st.seen,
          outbox,
          fault: fault ?? null,
          lastPoll: ctx.clock.now(),
          processed: st.processed + result.count,
        };
        if (alerts.length > 0) {
          const log = [...(await loadEvents(k)), ...alerts];
          await ctx.store.set(`events:${k}`, log.slice(-cfg.keepEvents));
        }
        await ctx.store.set(`state:${k}`, next);
        if (fault !== null) {
          ctx.log.warn({ exchange: m.exchange, symbol: m.symbol, fault: fault.message }, 'whales: data fault');
          await ctx.emit('whales.fault', fault);
          await ctx.alert({ kind: 'data', severity: 'warning', symbol: m.symbol, title: `whale watch on ${m.exchange} ${m.symbol} cannot read trades: ${fault.message}`, channels });
        }
        // emit, then mark sent
        const sent: string[] = [];
        for (const a of outbox) {
          if (seen.has(a.event.id)) continue;
          await ctx.emit('whale.detected', a);
          await ctx.alert(whaleAlert(a));
          sent.push(a.event.id);
        }
        if (outbox.length > 0) {
          await ctx.store.set(`state:${k}`, { ...next, outbox: [], seen: [...st.seen, ...sent].slice(-SEEN_KEEP) });
        }
        return { events: sent.length, trades: result.count, fault: fault?.message ?? null };
      });

    /** trade streams per market (see the header) */
    interface Feed {
      stop: (() => Promise<void>) | null;
      channels: string[];
      failures: number;
      retryAt: number;
      /** the stream's first batch was preceded by a REST catch-up */
      primed: boolean;
    }
    const feeds = new Map<string, Feed>();
    let closing = false;
    const backoff = (f: Feed): void => {
      f.failures += 1;
      f.retryAt = ctx.clock.now() + Math.min(cfg.streamRetryMaxMs, cfg.streamRetryMs * 2 ** (f.failures - 1));
    };
    const pollQuietly = (k: string, f: Feed, pushed?: { trades: Trade[]; caughtUp: boolean }): void => {
      pollMarket(k, f.channels, pushed).catch((err: unknown) => ctx.log.error({ err, market: k }, 'whales: poll failed'));
    };
    /** 'live': the market's stream was running; 'started': started now; 'off': polling */
    const ensureFeed = async (k: string, channels: string[]): Promise<'live' | 'started' | 'off'> => {
      if (!cfg.stream || !ctx.market.canWatchTrades || closing) return 'off';
      let f = feeds.get(k);
      if (f === undefined) {
        f = { stop: null, channels, failures: 0, retryAt: 0, primed: false };
        feeds.set(k, f);
      }
      f.channels = channels;
      if (f.stop !== null) return 'live';
      if (ctx.clock.now() < f.retryAt) return 'off';
      const feed = f;
      const [exchange, ...rest] = k.split(':');
      const m = { exchange: exchange as string, symbol: rest.join(':') };
      let failed = false;
      feed.primed = false;
      const onTrades = (trades: Trade[]): void => {
        if (failed || closing) return;
        if (!feed.primed) {
          // REST up to now first: it has every trade before the first streamed one
          feed.primed = true;
          feed.failures = 0;
          pollQuietly(k, feed);
        }
        pollQuietly(k, feed, { trades, caughtUp: false });
      };
      const onError = (err: Error): void => {
        failed = true;
        feed.stop = null;
        if (closing) return;
        backoff(feed);
        ctx.log.warn({ ...m, reason: err.message, retryAt: new Date(feed.retryAt).toISOString() }, 'whales: trade stream lost; polling until it is back');
        pollQuietly(k, feed); // the fallback: from the cursor, at once
      };
      try {
        const stop = await ctx.market.watchTrades(m, onTrades, onError);
        if (failed) return 'off';
        if (closing) {
          await stop();
          return 'off';
        }
        feed.stop = stop;
        ctx.log.info(m, 'whales: trade stream started');
        return 'started';
      } catch (err) {
        backoff(feed);
        ctx.log.warn({ ...m, reason: err instanceof Error ? err.message : String(err), retryAt: new Date(feed.retryAt).toISOString() }, 'whales: no trade stream; polling');
        return 'off';
      }
    };

    const pollAll = async (): Promise<void> => {
      const lists = await watchlists();
      const byMarket = new Map<string, string[]>();
      for (const [ch, markets] of Object.entries(lists)) for (const mk of markets) byMarket.set(mk, [...(byMarket.get(mk) ?? []), ch]);
      for (const [k, channels] of byMarket) {
        try {
          const feed = await ensureFeed(k, channels.sort());
          // a running stream brings the trades: the poll only finishes quiet bursts
          await pollMarket(k, channels, feed === 'live' ? { trades: [], caughtUp: true } : undefined);
        } catch (err) {
          ctx.log.error({ err, market: k }, 'whales: poll failed');
        }
      }
      for (const [k, f] of feeds) {
        if (byMarket.has(k)) continue;
        feeds.delete(k); // no longer watched
        await f.stop?.().catch((err: unknown) => ctx.log.warn({ err, market: k }, 'whales: stopping a trade stream failed'));
      }
    };

    /**
     * The whale section of a digest (the digest plugin composes sections that plugins provide):
     * the largest stored events of every watched market in the period, and the data faults
     * still standing, so a quiet section never hides an outage.
     */
    const digestSection = async (period: { since: number; max?: number }): Promise<Block[]> => {
      const markets = [...new Set(Object.values(await watchlists()).flat())].sort();
      if (markets.length === 0) return [block.text('Whales: no markets are watched (/watch add <symbol>).')];
      const sev = new Map<string, Severity>();
      const events: WhaleEvent[] = [];
      const faults: string[] = [];
      for (const k of markets) {
        for (const a of await loadEvents(k)) {
          if (a.event.firstTime < period.since) continue;
          sev.set(a.event.id, a.severity);
          events.push(a.event);
        }
        const st = await loadState(k);
        if (st.fault) faults.push(`data fault on ${k.replace(':', ' ')} at ${utcSecond(st.fault.at)}: ${st.fault.message}`);
      }
      const top = events.sort((a, b) => b.notional - a.notional).slice(0, period.max ?? 10);
      const title = `Whales since ${utcSecond(period.since)} UTC: ${events.length} event${events.length === 1 ? '' : 's'} on ${markets.length} watched market${markets.length === 1 ? '' : 's'}`;
      const out: Block[] = [top.length === 0 ? block.text(`${title}.`) : block.table(EVENT_HEADER, eventRows(top, sev), { title, align: EVENT_ALIGN })];
      if (faults.length > 0) out.push(block.text(faults.join('\n'), 'warn'));
      return out;
    };

    ctx.contribute('digest', {
      name: 'whales',
      title: 'Whale activity',
      order: 40,
      render: async (period) => ({ blocks: await digestSection({ since: period.since }) }),
    });

    ctx.provide('whales', {
      digestSection,
      pollAll,
      pollMarket: (exchange: string, symbol: string) => pollMarket(mkey(exchange, symbol), []),
      feed: async (exchange: string, symbol: string) => {
        const k = mkey(exchange, symbol);
        await (locks.get(k) ?? Promise.resolve()); // after the polls queued so far
        const st = await loadState(k);
        return { streaming: feeds.get(k)?.stop != null, cursor: st.cursor, processed: st.processed };
      },
    });

    ctx.schedule({ name: 'poll', cron: cfg.cron, ...(cfg.timezone !== undefined ? { timezone: cfg.timezone } : {}), run: pollAll });

    /**
     * Walls on a schedule (`whales.walls`, walls.cron): every watched market's book through
     * wallsCheck, which compares it with the previous snapshot kept in the store (so a restart
     * keeps it) and emits `wall.changed`. A missing book or an exchange error is a data fault:
     * logged and emitted as `whales.fault` ("order book: …"), never skipped silently.
     */
    const wallsAll = async (): Promise<void> => {
      const markets = new Set(Object.values(await watchlists()).flat());
      for (const k of [...markets].sort()) {
        const [exchange, ...rest] = k.split(':');
        const m = { exchange: exchange as string, symbol: rest.join(':') };
        try {
          await serial(`walls:${k}`, () => wallsCheck(ctx, cfg, m.exchange, m.symbol));
        } catch (err) {
          const fault: WhaleFault = { ...m, at: ctx.clock.now(), message: `order book: ${err instanceof Error ? err.message : String(err)}` };
          ctx.log.warn({ exchange: m.exchange, symbol: m.symbol, fault: fault.message }, 'whales: walls data fault');
          await ctx.emit('whales.fault', fault);
        }
      }
    };
    ctx.schedule({ name: 'walls', cron: cfg.walls.cron, ...(cfg.timezone !== undefined ? { timezone: cfg.timezone } : {}), run: wallsAll });

    const exchangeArg = arg.string({ pattern: /^[a-z][a-z0-9]*$/, patternHint: 'an exchange id like binance' }).optional().describe('default: the configured exchange');

    ctx.command(
      defineCommand({
        name: 'whales',
        summary: 'Largest recent whale trades and bursts (time, side, size, price, notional)',
        args: {
          symbol: arg.symbol().optional().describe('a market; without it: this channel’s watchlist'),
          since: arg.duration().optional().describe('how far back, e.g. 6h (from the newest trade)'),
          min: arg.number({ min: 0 }).optional().describe('minimum quote notional'),
          exchange: exchangeArg,
        },
        permission: 'market:read',
        examples: ['/whales XRP/ETH', '/whales XRP/ETH 6h 5', '/whales'],
        handler: async (c) => {
          // "/whales 6h": a duration where the symbol would be is the period for the watchlist
          const period = c.args.symbol !== undefined && c.args.since === undefined ? readDuration(c.args.symbol) : undefined;
          const args = period !== undefined ? { ...c.args, symbol: undefined, since: period } : c.args;
          const blocks: Block[] = [];
          const min = args.min ?? 0;
          const sev = new Map<string, Severity>();
          if (args.symbol === undefined) {
            const mine = (await watchlists())[channelKey(c.channel)] ?? [];
            if (mine.length === 0) return reply.text('This channel watches no markets: /whales <symbol> scans one, /watch add <symbol> watches it.');
            const now = ctx.market.now();
            const all: WhaleEvent[] = [];
            const faults: string[] = [];
            for (const k of mine) {
              for (const a of await loadEvents(k)) {
                sev.set(a.event.id, a.severity);
                if (args.since === undefined || a.event.firstTime >= now - args.since) all.push(a.event);
              }
              const st = await loadState(k);
              if (st.fault) faults.push(`data fault on ${k.replace(':', ' ')} at ${utcSecond(st.fault.at)}: ${st.fault.message}`);
            }
            const top = all.filter((e) => e.notional >= min).sort((a, b) => b.notional - a.notional).slice(0, 20);
            blocks.push(
              top.length === 0
                ? block.text(`No whale events stored for ${mine.map((k) => k.replace(':', ' ')).join(', ')}${min > 0 ? ` at or above ${fmt(min)}` : ''}.`)
                : block.table(EVENT_HEADER, eventRows(top, sev), { title: `Whales on this channel’s watchlist, largest first`, align: EVENT_ALIGN }),
            );
            if (faults.length > 0) blocks.push(block.text(faults.join('\n'), 'warn'));
            return { blocks };
          }

          const { exchange, symbol } = await ctx.market.resolve(args.exchange === undefined ? { symbol: args.symbol } : { symbol: args.symbol, exchange: args.exchange });
          const newest = await ctx.market.trades({ exchange, symbol, limit: 1 });
          const last = newest[newest.length - 1];
          if (last === undefined) return reply.text(`${exchange} ${symbol}: no trades to scan.`);
          const span = args.since ?? cfg.scanMs;
          const s = detectorSettings(cfg, exchange, symbol);
          const det = new WhaleDetector(exchange, symbol, s);
          const events: WhaleEvent[] = [];
          let first: number | null = null;
          const r = await readTrades(ctx, { exchange, symbol }, { time: last.time - span, ids: [] }, { pageLimit: cfg.pageLimit, maxPages: cfg.maxPages, until: last.time }, (batch) => {
            first ??= (batch[0] as Trade).time;
            det.process(tradeColumns(batch), events);
          });
          det.flush(events);
          // stored events of a watched market (its detector has a longer memory) are merged in
          const stored = await loadEvents(mkey(exchange, symbol));
          const byId = new Map(events.map((e) => [e.id, e]));
          for (const a of stored) {
            sev.set(a.event.id, a.severity);
            if (a.event.firstTime >= last.time - span) byId.set(a.event.id, a.event);
          }
          const vol = await volume24h(exchange, symbol);
          const bases = new Set<string>();
          for (const e of byId.values()) {
            if (sev.has(e.id)) continue;
            const r = severityOf(e, vol, s, cfg.severity);
            sev.set(e.id, r.severity);
            bases.add(r.basis.replace(/^[\d.,]+(× | %)\s*(of )?/, ''));
          }
          const top = [...byId.values()].filter((e) => e.notional >= min).sort((a, b) => b.notional - a.notional).slice(0, 20);
          const [base, quote] = symbol.split('/');
          const rules = [s.absolute !== null ? `≥ ${fmt(s.absolute)} ${quote}` : null, s.k !== null ? `≥ ${s.k}× median print` : null, s.z !== null ? `log z ≥ ${s.z}` : null].filter(Boolean).join(' or ');
          const scanned = `${r.count.toLocaleString('en-US')} trades ${first !== null ? `${utcSecond(first)} → ${utcSecond(last.time)}` : ''} UTC${r.caughtUp ? '' : ` (stopped after ${r.pages} pages: older part only)`}`;
          if (top.length === 0) {
            blocks.push(block.text(`${symbol} (${exchange}): no whale events in ${scanned}; rules: ${rules}, same-side prints within ${s.clusterMs / 1000} s clustered.`));
          } else {
            blocks.push(
              block.table(EVENT_HEADER, eventRows(top, sev), {
                title: `Whales ${symbol} (${exchange}), largest first — size in ${base}, price and notional in ${quote}`,
                align: EVENT_ALIGN,
              }),
            );
            blocks.push(block.text(`${byId.size} events in ${scanned}; rules: ${rules} (relative rules after ${s.minHistory} prints), same-side prints within ${s.clusterMs / 1000} s clustered.${bases.size > 0 ? ` Severity by ${[...bases].join('; ')}.` : ''}`));
          }
          const st = await ctx.store.get(`state:${mkey(exchange, symbol)}`) as MarketState | undefined;
          if (st?.fault) blocks.push(block.text(`data fault on the watched feed at ${utcSecond(st.fault.at)}: ${st.fault.message}`, 'warn'));
          return { blocks };
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'watch',
        summary: 'This channel’s whale watchlist: add, remove or list markets',
        args: {
          action: arg.choice(['add', 'remove', 'list'] as const),
          symbol: arg.symbol().optional(),
          exchange: exchangeArg,
        },
        permission: 'market:read',
        examples: ['/watch add XRP/ETH', '/watch list', '/watch remove XRP/ETH'],
        handler: async (c) => {
          const ch = channelKey(c.channel);
          if (c.args.action === 'list') {
            const mine = (await watchlists())[ch] ?? [];
            if (mine.length === 0) return reply.text('This channel watches no markets.');
            const rows: string[][] = [];
            for (const k of mine) {
              const st = await loadState(k);
              rows.push([k.replace(':', ' '), st.cursor ? utcSecond(st.cursor.time) : 'not polled yet', String(st.processed), st.fault ? `fault: ${st.fault.message}` : 'ok']);
            }
            return reply.of(block.table(['market', 'read up to (UTC)', 'trades read', 'feed'], rows, { title: 'Watched for whales' }));
          }
          if (c.args.symbol === undefined) c.fail(`/watch ${c.args.action} needs a symbol`);
          const { exchange, symbol } = await ctx.market.resolve(c.args.exchange === undefined ? { symbol: c.args.symbol as string } : { symbol: c.args.symbol as string, exchange: c.args.exchange });
          const k = mkey(exchange, symbol);
          return serial('watchlists', async () => {
            const lists = await watchlists();
            const mine = new Set(lists[ch] ?? []);
            if (c.args.action === 'add') {
              if (mine.has(k)) return reply.text(`${symbol} (${exchange}) is already watched here.`);
              mine.add(k);
            } else {
              if (!mine.delete(k)) return reply.text(`${symbol} (${exchange}) is not watched here.`);
            }
            if (mine.size === 0) delete lists[ch];
            else lists[ch] = [...mine].sort();
            await ctx.store.set('watchlists', lists);
            return reply.text(c.args.action === 'add' ? `Watching ${symbol} (${exchange}) for whales here.` : `No longer watching ${symbol} (${exchange}) here.`, 'ok');
          });
        },
      }),
    );

    ctx.command(
      defineCommand({
        name: 'walls',
        summary: 'Order-book walls near the mid and bid/ask depth imbalance',
        args: { symbol: arg.symbol(), exchange: exchangeArg },
        permission: 'market:read',
        examples: ['/walls BTC/USDT'],
        handler: async (c) => {
          const { exchange, symbol } = await ctx.market.resolve(c.args.exchange === undefined ? { symbol: c.args.symbol } : { symbol: c.args.symbol, exchange: c.args.exchange });
          const r = await serial(`walls:${mkey(exchange, symbol)}`, () => wallsCheck(ctx, cfg, exchange, symbol));
          const blocks: Block[] = [];
          const [, quote] = symbol.split('/');
          blocks.push(
            r.walls.length === 0
              ? block.text(`${symbol} (${exchange}): no walls of ≥ ${fmt(r.minNotional)} ${quote} within ${cfg.walls.withinPct} % of mid ${fmt(r.mid)}.`)
              : block.table(
                  ['side', 'price', 'size', 'notional', 'from mid'],
                  r.walls.map((w) => [w.side, fmt(w.price), fmt(w.amount), fmt(w.notional), `${w.distancePct.toFixed(2)} %`]),
                  { title: `Walls ${symbol} (${exchange}) ≥ ${fmt(r.minNotional)} ${quote} within ${cfg.walls.withinPct} % of mid ${fmt(r.mid)}`, align: ['left', 'right', 'right', 'right', 'right'] },
                ),
          );
          if (r.changes.length > 0) blocks.push(block.text(r.changes.map(describeChange).join('\n'), r.changes.some((x) => x.kind === 'pulled') ? 'warn' : 'info'));
          blocks.push(block.table(['band', 'bids', 'asks', 'imbalance'], r.imbalance.map(imbalanceRow), { title: 'Depth imbalance (+ = more bids)', align: ['left', 'right', 'right', 'right'] }));
          return { blocks };
        },
      }),
    );

    return async () => {
      closing = true;
      await Promise.all([...feeds.values()].map((f) => f.stop?.().catch(() => undefined)));
      feeds.clear();
      await Promise.all([...locks.values()]); // streamed batches still being stored
    };
  },
});

declare module '../../src/kernel/index.js' {
  interface Services {
    whales: {
      /** the whale section of a digest: largest stored events since `since` on watched markets, and standing data faults */
      digestSection(period: { since: number; max?: number }): Promise<Block[]>;
      pollAll(): Promise<void>;
      pollMarket(exchange: string, symbol: string): Promise<{ events: number; trades: number; fault: string | null }>;
      /** the market's trade stream (running or not), cursor and trades read, after the polls queued so far */
      feed(exchange: string, symbol: string): Promise<{ streaming: boolean; cursor: { time: number; ids: string[] } | null; processed: number }>;
    };
  }
}

function describeChange(x: WallChange): string {
  const what = `${x.side} wall at ${fmt(x.price)}`;
  switch (x.kind) {
    case 'appeared':
      return `new ${what}: ${fmt(x.wall.amount)} (${fmt(x.wall.notional)})`;
    case 'grew':
      return `${what} grew ${fmt(x.before?.amount ?? 0)} → ${fmt(x.wall.amount)}`;
    case 'pulled':
      return `PULLED ${what} (${fmt(x.before?.amount ?? 0)}) — gone before the price reached it`;
    case 'filled':
      return `${what} was hit (price traded through it)`;
  }
}

function imbalanceRow(b: BandImbalance): string[] {
  return [`±${b.bandPct} %`, fmt(b.bidNotional), fmt(b.askNotional), b.imbalance === null ? 'n/a (empty)' : `${b.imbalance >= 0 ? '+' : ''}${(b.imbalance * 100).toFixed(1)} %`];
}

/** fetch the book, find walls, compare with the stored previous snapshot, emit changes */
export async function wallsCheck(
  ctx: Pick<PluginContext<unknown>, 'market' | 'store' | 'emit' | 'clock'>,
  cfg: WhalesConfig,
  exchange: string,
  symbol: string,
): Promise<{ walls: Wall[]; changes: WallChange[]; imbalance: BandImbalance[]; mid: number; minNotional: number }> {
  const book = await ctx.market.orderBook({ exchange, symbol, depth: cfg.walls.depth });
  const bestBid = book.bids[0]?.[0];
  const bestAsk = book.asks[0]?.[0];
  if (bestBid === undefined || bestAsk === undefined) throw new Error(`${exchange} ${symbol}: the order book has an empty side — no mid, no walls`);
  const mid = (bestBid + bestAsk) / 2;
  let minNotional = cfg.walls.minNotional[`${exchange}:${symbol}`] ?? cfg.walls.minNotional[symbol];
  if (minNotional === undefined) {
    const inBand = [...book.bids, ...book.asks].filter(([p]) => (Math.abs(p - mid) / mid) * 100 <= cfg.walls.withinPct).map(([p, q]) => p * q).sort((a, b) => a - b);
    const med = inBand.length === 0 ? 0 : ((inBand[(inBand.length - 1) >> 1] as number) + (inBand[inBand.length >> 1] as number)) / 2;
    minNotional = med * cfg.walls.relative;
  }
  const key = `walls:${exchange}:${symbol}`;
  const prev = ((await ctx.store.get(key)) as { walls: Wall[]; time: number } | undefined) ?? null;
  // the traded range between the snapshots, when the feed gives it
  let traded: { low: number; high: number } | null = null;
  if (prev !== null) {
    try {
      const ts = await ctx.market.trades({ exchange, symbol, since: prev.time, limit: 1000 });
      if (ts.length > 0) traded = { low: Math.min(...ts.map((t) => t.price)), high: Math.max(...ts.map((t) => t.price)) };
    } catch {
      traded = null; // the book alone decides (best prices vs the wall)
    }
  }
  const s = { minNotional, withinPct: cfg.walls.withinPct, growPct: cfg.walls.growPct };
  const r = trackWalls(prev?.walls ?? null, book, s, traded);
  await ctx.store.set(key, { walls: r.walls, time: book.time });
  for (const change of r.changes) await ctx.emit('wall.changed', { exchange, symbol, change, at: book.time });
  return { walls: r.walls, changes: r.changes, imbalance: imbalance(book), mid, minNotional };
}

export type { Side };

/** A whale event as an alert for the channels that watch its market: medium and high severity are warnings. */
function whaleAlert(a: WhaleAlert): Alert {
  const e = a.event;
  const usd = Math.round(e.notional).toLocaleString('en-US');
  return {
    kind: 'whale',
    severity: a.severity === 'low' ? 'info' : 'warning',
    symbol: e.symbol,
    title: `${e.side === 'buy' ? 'buying' : e.side === 'sell' ? 'selling' : 'trading'} ${e.size.toPrecision(4)} (${usd} quote) on ${e.exchange} in ${e.count} print${e.count === 1 ? '' : 's'}, price ${e.firstPrice} → ${e.lastPrice} (${a.severity}: ${a.basis})`,
    dedupeKey: `whale|${e.id}`,
    channels: a.channels,
  };
}
