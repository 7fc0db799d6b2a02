import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { defaultMarketDir } from './data.js';
import type { LoggedRequest } from './index.js';
import { listenOnLoopback, type Answer } from './http.js';

/**
 * A fake Kraken spot REST server: the public subset the real ccxt `kraken` client calls for
 * loadMarkets (GET /0/public/Assets — ccxt's fetchCurrencies, called first because kraken
 * has('fetchCurrencies') — and /0/public/AssetPairs) and fetchTrades (/0/public/Trades), plus
 * /0/public/Time. Listens on 127.0.0.1, port 0. Point the live source at it with
 * market.urls.kraken = fake.url (the override replaces the origin of ccxt's urls.api.public).
 *
 * Served from the recorded files trades/kraken_<BASE>-<QUOTE>_trades.csv of the shared data dir
 * (Kraken's trade export `timestamp,price,amount`, see SOURCES.md); only recorded pairs exist.
 * - Assets / AssetPairs: metadata only, for the recorded pairs. Kraken's asset ids (BCH, ZEUR,
 *   XXBT...) and pair id (BASE+QUOTE altnames, e.g. BCHEUR); pair_decimals / lot_decimals are
 *   the decimal places the recorded prices / amounts need. Fees, order minimums and leverage are
 *   not recorded and are left out (ccxt reads them as unknown).
 * - Trades: [price, volume, time (s, float), side, type, misc, trade_id] with the file's price
 *   and amount strings as recorded. The export has no side, order type or trade id:
 *     side  "" (unknown). Real Kraken always sends "b" or "s"; ccxt's parser maps anything but
 *           "s" to "buy", so the live source treats a kraken side marker other than b/s as
 *           unknown (see live-source.ts). No side is invented here (no tick rule).
 *     type  "" (unknown; ccxt reads it as "market").
 *     id    the row's number in the file (1 = first trade, as the replay source numbers them),
 *           zero-padded to the width of the file's row count ("006" of 486): ccxt sorts parsed
 *           trades by (timestamp, id as a string), so unpadded numbers would put "10" before
 *           "6" within one millisecond and the client would not see the file's order. (Real
 *           Kraken ids are large integers of one width, so this sort is harmless there.)
 *   `since` (seconds, integer or float, or a 19-digit nanosecond cursor as Kraken's `last`)
 *   is honoured: trades with time ≥ since (inclusive, as ccxt floors ms to whole seconds), at
 *   most `count` (default and max 1000), oldest first; without since, the newest `count`.
 *   `last` is the last served trade's time in ns. Nothing after the server's "now".
 * - errors like Kraken: HTTP 200 with { error: ["EQuery:Unknown asset pair"], result: {} }.
 */

export type KrakenFault =
  | { kind: 'status'; status: number; body?: string }
  | { kind: 'hang' }
  | { kind: 'malformed' }
  /** a Kraken API error list answered with HTTP 200, e.g. ['EService:Unavailable'] */
  | { kind: 'krakenError'; errors: string[] };

export type KrakenLoggedRequest = Omit<LoggedRequest, 'fault'> & { fault?: KrakenFault['kind'] };

export interface FakeKraken {
  readonly url: string;
  readonly requests: KrakenLoggedRequest[];
  inject(opts: { path: string; times?: number; fault: KrakenFault }): void;
  clearFaults(): void;
  /** the server's "now" (ms); null: each pair's last recorded trade */
  setNow(now: number | null): void;
  requestsTo(path: string): KrakenLoggedRequest[];
  close(): Promise<void>;
}

interface Pair {
  /** Kraken pair id, e.g. BCHEUR */
  id: string;
  base: string;
  quote: string;
  baseId: string;
  quoteId: string;
  /** ms */
  time: number[];
  price: string[];
  amount: string[];
  priceDecimals: number;
  amountDecimals: number;
}

const TRADES_FILE = /^kraken_([A-Z0-9]+)-([A-Z0-9]+)_trades\.csv$/;
const FIAT = new Set(['EUR', 'USD', 'GBP', 'JPY', 'CAD', 'CHF', 'AUD']);
/** Kraken's legacy asset ids (X/Z prefixed); other assets use their code */
const ASSET_ID: Record<string, string> = { BTC: 'XXBT', ETH: 'XETH', LTC: 'XLTC', XRP: 'XXRP' };
const ALTNAME: Record<string, string> = { BTC: 'XBT' };
const assetId = (code: string): string => ASSET_ID[code] ?? (FIAT.has(code) ? `Z${code}` : code);
const altname = (code: string): string => ALTNAME[code] ?? code;

/** decimal places a value needs (trailing zeros dropped) */
function decimals(s: string): number {
  const dot = s.indexOf('.');
  if (dot < 0) return 0;
  return s.slice(dot + 1).replace(/0+$/, '').length;
}

function loadPairs(dir: string): Map<string, Pair> {
  const tradesDir = path.join(dir, 'trades');
  const pairs = new Map<string, Pair>();
  if (!existsSync(tradesDir)) throw new Error(`fake kraken: no trades dir in ${dir} — set DESKBOT_MARKET_DIR to the shared data dir`);
  for (const name of readdirSync(tradesDir)) {
    const m = TRADES_FILE.exec(name);
    if (m === null) continue;
    const base = m[1] as string;
    const quote = m[2] as string;
    const rows = readFileSync(path.join(tradesDir, name), 'utf8').split('\n').filter((l) => l.trim() !== '');
    if (rows[0]?.trim() !== 'timestamp,price,amount') throw new Error(`fake kraken: ${name}: unexpected header "${rows[0]}"`);
    const p: Pair = { id: `${altname(base)}${altname(quote)}`, base, quote, baseId: assetId(base), quoteId: assetId(quote), time: [], price: [], amount: [], priceDecimals: 0, amountDecimals: 0 };
    for (const r of rows.slice(1)) {
      const [t, price, amount] = r.trim().split(',');
      p.time.push(Number(t));
      p.price.push(price as string);
      p.amount.push(amount as string);
      p.priceDecimals = Math.max(p.priceDecimals, decimals(price as string));
      p.amountDecimals = Math.max(p.amountDecimals, decimals(amount as string));
    }
    pairs.set(p.id, p);
  }
  if (pairs.size === 0) throw new Error(`fake kraken: no recorded kraken trades (trades/kraken_<BASE>-<QUOTE>_trades.csv) in ${dir}`);
  return pairs;
}


const json = (value: unknown, status = 200): Answer => ({ status, body: JSON.stringify(value), headers: { 'content-type': 'application/json; charset=utf-8' } });
const ok = (result: unknown): Answer => json({ error: [], result });
const krakenError = (...errors: string[]): Answer => json({ error: errors, result: {} });

export async function startFakeKraken(opts: { dataDir?: string; now?: number } = {}): Promise<FakeKraken> {
  const pairs = loadPairs(opts.dataDir ?? defaultMarketDir());
  const requests: KrakenLoggedRequest[] = [];
  const faults: Array<{ path: string; remaining: number; fault: KrakenFault }> = [];
  let nowOverride: number | null = opts.now ?? null;

  const assets = (): Answer => {
    const out: Record<string, unknown> = {};
    for (const p of pairs.values()) {
      for (const code of [p.base, p.quote]) {
        const fiat = FIAT.has(code);
        out[assetId(code)] = { aclass: 'currency', altname: altname(code), decimals: fiat ? 4 : 10, display_decimals: fiat ? 2 : 5, status: 'enabled' };
      }
    }
    return ok(out);
  };

  const assetPairs = (): Answer => {
    const out: Record<string, unknown> = {};
    for (const p of pairs.values()) {
      out[p.id] = {
        altname: p.id,
        wsname: `${altname(p.base)}/${altname(p.quote)}`,
        aclass_base: 'currency',
        base: p.baseId,
        aclass_quote: 'currency',
        quote: p.quoteId,
        lot: 'unit',
        pair_decimals: p.priceDecimals,
        lot_decimals: p.amountDecimals,
        lot_multiplier: 1,
        leverage_buy: [],
        leverage_sell: [],
        status: 'online',
      };
    }
    return ok(out);
  };

  const trades = (q: URLSearchParams): Answer => {
    const id = q.get('pair');
    const p = id === null ? undefined : pairs.get(id);
    if (p === undefined) return krakenError('EQuery:Unknown asset pair');
    const countRaw = q.get('count');
    const count = countRaw === null ? 1000 : Number(countRaw);
    if (!Number.isInteger(count) || count < 1) return krakenError('EGeneral:Invalid arguments');
    const n = Math.min(count, 1000);
    const now = nowOverride ?? (p.time[p.time.length - 1] as number);
    let hi = 0;
    while (hi < p.time.length && (p.time[hi] as number) <= now) hi++;
    const sinceRaw = q.get('since');
    let lo: number;
    let sinceMs: number | null = null;
    if (sinceRaw !== null && sinceRaw !== '') {
      if (!/^\d+(\.\d+)?$/.test(sinceRaw)) return krakenError('EGeneral:Invalid arguments:since');
      // a 19-digit value is Kraken's nanosecond cursor, otherwise seconds
      sinceMs = sinceRaw.length >= 19 ? Number(BigInt(sinceRaw.split('.')[0] as string) / 1_000_000n) : Number(sinceRaw) * 1000;
      lo = 0;
      while (lo < hi && (p.time[lo] as number) < (sinceMs as number)) lo++;
      hi = Math.min(hi, lo + n);
    } else {
      lo = Math.max(0, hi - n);
    }
    const rows: unknown[] = [];
    const width = String(p.time.length).length;
    for (let i = lo; i < hi; i++) rows.push([p.price[i], p.amount[i], (p.time[i] as number) / 1000, '', '', '', String(i + 1).padStart(width, '0')]);
    const lastMs = hi > lo ? (p.time[hi - 1] as number) : (sinceMs ?? now);
    return ok({ [p.id]: rows, last: (BigInt(Math.round(lastMs)) * 1_000_000n).toString() });
  };

  const route = (p: string, q: URLSearchParams): Answer => {
    switch (p) {
      case '/0/public/Time': {
        const t = nowOverride ?? Date.now();
        return ok({ unixtime: Math.floor(t / 1000), rfc1123: new Date(t).toUTCString() });
      }
      case '/0/public/Assets':
        return assets();
      case '/0/public/AssetPairs':
        return assetPairs();
      case '/0/public/Trades':
        return trades(q);
      default:
        return krakenError('EGeneral:Unknown method');
    }
  };

  const hanging = new Set<ServerResponse>();
  const send = (res: ServerResponse, a: Answer): void => {
    res.writeHead(a.status, a.headers);
    res.end(a.body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const u = new URL(req.url ?? '/', 'http://fake');
    const entry: KrakenLoggedRequest = { method: req.method ?? 'GET', path: u.pathname, query: Object.fromEntries(u.searchParams) };
    requests.push(entry);
    const i = faults.findIndex((f) => f.remaining > 0 && (f.path === u.pathname || f.path === '*'));
    const injected = i >= 0 ? faults[i] : undefined;
    if (injected !== undefined) {
      injected.remaining -= 1;
      if (injected.remaining <= 0) faults.splice(i, 1);
      const f = injected.fault;
      entry.fault = f.kind;
      switch (f.kind) {
        case 'hang':
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
        case 'malformed': {
          const real = route(u.pathname, u.searchParams);
          send(res, { ...real, body: real.body.slice(0, Math.max(1, Math.floor(real.body.length / 2))) });
          return;
        }
        case 'krakenError':
          send(res, krakenError(...f.errors));
          return;
        case 'status':
          send(res, { status: f.status, body: f.body ?? (f.status >= 500 ? 'Service Unavailable.' : ''), headers: { 'content-type': 'text/plain' } });
          return;
      }
    }
    try {
      send(res, route(u.pathname, u.searchParams));
    } catch (e) {
      send(res, { status: 500, body: `fake kraken bug: ${e instanceof Error ? e.message : String(e)}`, headers: { 'content-type': 'text/plain' } });
    }
  };

  const { server, port } = await listenOnLoopback(handle);

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject(o): void {
      faults.push({ path: o.path, remaining: o.times ?? 1, fault: o.fault });
    },
    clearFaults(): void {
      faults.length = 0;
    },
    setNow(now: number | null): void {
      nowOverride = now;
    },
    requestsTo(p: string): KrakenLoggedRequest[] {
      return requests.filter((r) => r.path === p);
    },
    async close(): Promise<void> {
      for (const res of hanging) res.destroy();
      hanging.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
