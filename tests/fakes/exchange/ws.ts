import type { IncomingMessage, Server } from 'node:http';
import { createRequire } from 'node:module';
import { lowerBound } from '../../../src/market/search.js';
import type { RecordedData } from './data.js';

/**
 * The fake Binance spot WebSocket market streams, on the fake exchange's HTTP server (upgrade).
 *
 * ccxt.pro's binance connects to `urls.api.ws.spot` + "/<stream index>" (with the fake's base
 * ws://127.0.0.1:<port>/stream: ws://127.0.0.1:<port>/stream/ws/0 — the path must contain
 * "/stream", which ccxt reads as "spot" when it maps a market id to a market) and sends
 * `{"method":"SUBSCRIBE","params":["xrpeth@aggTrade"],"id":1}`; the fake answers
 * `{"result":null,"id":1}` like Binance and from then on sends, when a test pushes them, the
 * recorded trades as raw (not combined) stream events: `aggTrade` events
 * `{e,E,s,a,p,q,f,l,T,m,M}` for "<symbol>@aggTrade" and `trade` events `{e,E,s,t,p,q,T,m,M}` for
 * "<symbol>@trade" — the same ids as the REST aggTrades/trades answers of the fake.
 *
 * Nothing is streamed on its own: a test moves a per-symbol position through the record with
 * `seek` and sends the next trades with `push`; `drop` cuts every connection (no close frame,
 * as a network failure).
 *
 * `ws` (ccxt's own WebSocket dependency) is loaded with require: it has no type declarations in
 * this project, so the small part used here is typed below.
 */

interface WsSocket {
  readonly readyState: number;
  send(data: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: () => void): void;
}

interface WsServer {
  on(event: 'connection', listener: (socket: WsSocket, req: IncomingMessage) => void): void;
  close(cb?: () => void): void;
}

type WsServerClass = new (opts: { server: Server }) => WsServer;

const OPEN = 1;

export interface PushedTrade {
  id: number;
  time: number;
}

export interface FakeTradeStream {
  /** the base to configure as market.wsUrls.binance, e.g. ws://127.0.0.1:41234/stream */
  readonly url: string;
  /** connections currently open */
  connections(): number;
  /** every SUBSCRIBE received (stream names), in order, over all connections ever */
  readonly subscribeLog: string[];
  /** resolves once an open connection is subscribed to a trade stream of `symbol` (e.g. "XRP/ETH") */
  waitForSubscriber(symbol: string, timeoutMs?: number): Promise<void>;
  /** the next push starts at the first recorded trade with time ≥ fromTime */
  seek(symbol: string, fromTime: number): void;
  /** sends the next `count` recorded trades (fewer at the end of the record) to the symbol's subscribers */
  push(symbol: string, count: number): PushedTrade[];
  /** recorded trades of the symbol not pushed yet */
  remaining(symbol: string): number;
  /** cuts every open connection (no close frame) */
  drop(): void;
  close(): Promise<void>;
}

const marketIdOf = (symbol: string): string => symbol.replace('/', '').toUpperCase();

export function attachFakeTradeStream(server: Server, base: string, data: RecordedData): FakeTradeStream {
  const require = createRequire(import.meta.url);
  const { WebSocketServer } = require('ws') as { WebSocketServer: WsServerClass };
  const wss = new WebSocketServer({ server });
  const subs = new Map<WsSocket, Set<string>>();
  const positions = new Map<string, number>();
  const subscribeLog: string[] = [];
  let waiters: Array<() => void> = [];

  const subscribedTo = (id: string): Array<[WsSocket, string]> => {
    const out: Array<[WsSocket, string]> = [];
    const lower = id.toLowerCase();
    for (const [socket, streams] of subs) {
      if (socket.readyState !== OPEN) continue;
      for (const s of streams) if (s === `${lower}@aggTrade` || s === `${lower}@trade`) out.push([socket, s]);
    }
    return out;
  };

  wss.on('connection', (socket, req) => {
    if (!(req.url ?? '').startsWith('/stream')) {
      socket.terminate();
      return;
    }
    subs.set(socket, new Set());
    socket.on('close', () => subs.delete(socket));
    socket.on('message', (buf) => {
      let msg: { method?: unknown; params?: unknown; id?: unknown };
      try {
        msg = JSON.parse(buf.toString()) as typeof msg;
      } catch {
        socket.send(JSON.stringify({ error: { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' } }));
        return;
      }
      const streams = subs.get(socket);
      const params = Array.isArray(msg.params) ? msg.params.filter((p): p is string => typeof p === 'string') : [];
      if (streams === undefined) return;
      switch (msg.method) {
        case 'SUBSCRIBE':
          for (const p of params) {
            streams.add(p);
            subscribeLog.push(p);
          }
          socket.send(JSON.stringify({ result: null, id: msg.id }));
          break;
        case 'UNSUBSCRIBE':
          for (const p of params) streams.delete(p);
          socket.send(JSON.stringify({ result: null, id: msg.id }));
          break;
        case 'LIST_SUBSCRIPTIONS':
          socket.send(JSON.stringify({ result: [...streams], id: msg.id }));
          break;
        default:
          socket.send(JSON.stringify({ error: { code: 2, msg: `Invalid request: unknown method ${String(msg.method)}` }, id: msg.id ?? null }));
      }
      const ready = waiters;
      waiters = [];
      for (const w of ready) w();
    });
  });

  const series = (symbol: string): NonNullable<ReturnType<RecordedData['trades']>> => {
    const s = data.trades(marketIdOf(symbol));
    if (s === undefined) throw new Error(`fake exchange: no recorded trades for ${symbol}`);
    return s;
  };

  return {
    url: base,
    subscribeLog,
    connections: () => [...subs.keys()].filter((s) => s.readyState === OPEN).length,
    waitForSubscriber(symbol: string, timeoutMs = 5000): Promise<void> {
      const id = marketIdOf(symbol);
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fake exchange: no WebSocket subscriber for ${symbol} within ${timeoutMs} ms`)), timeoutMs);
        const check = (): void => {
          if (subscribedTo(id).length > 0) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
    seek(symbol: string, fromTime: number): void {
      positions.set(marketIdOf(symbol), lowerBound(series(symbol).time, fromTime));
    },
    push(symbol: string, count: number): PushedTrade[] {
      const id = marketIdOf(symbol);
      const s = series(symbol);
      const targets = subscribedTo(id);
      if (targets.length === 0) throw new Error(`fake exchange: nobody is subscribed to ${symbol} trades`);
      const from = positions.get(id) ?? 0;
      const to = Math.min(s.length, from + count);
      const sent: PushedTrade[] = [];
      for (let i = from; i < to; i++) {
        const tid = s.id[i] as number;
        const time = s.time[i] as number;
        const side = s.side[i];
        for (const [socket, stream] of targets) {
          const agg = stream.endsWith('@aggTrade');
          const ev: Record<string, unknown> = agg
            ? { e: 'aggTrade', E: time, s: id, a: tid, p: String(s.price[i]), q: String(s.amount[i]), f: tid, l: tid, T: time }
            : { e: 'trade', E: time, s: id, t: tid, p: String(s.price[i]), q: String(s.amount[i]), T: time };
          if (side !== null && side !== undefined) ev['m'] = side === 'sell'; // buyer was the maker ⇔ the taker sold
          ev['M'] = true;
          socket.send(JSON.stringify(ev));
        }
        sent.push({ id: tid, time });
      }
      positions.set(id, to);
      return sent;
    },
    remaining(symbol: string): number {
      return series(symbol).length - (positions.get(marketIdOf(symbol)) ?? 0);
    },
    drop(): void {
      for (const socket of subs.keys()) socket.terminate();
      subs.clear();
    },
    close(): Promise<void> {
      for (const socket of subs.keys()) socket.terminate();
      subs.clear();
      return new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
