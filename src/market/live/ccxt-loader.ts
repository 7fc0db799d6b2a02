import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Loads one ccxt exchange class without importing all of ccxt.
 *
 * ccxt's package.json `exports` only exposes "." (`import('ccxt/js/src/binance.js')` fails with
 * ERR_PACKAGE_PATH_NOT_EXPORTED), and `import('ccxt')` evaluates every exchange (~110+ classes).
 * Each exchange is its own ESM file under ccxt/js/src/, importing only the base classes, so we
 * resolve the package's location (its CommonJS entry dist/ccxt.cjs, which `exports` does list),
 * and import js/src/<id>.js by file URL. Measured on this machine (Node 20, ccxt 4.5.84, fresh
 * process): binance.js alone ≈ 140 ms and +30 MiB RSS; `import('ccxt')` ≈ 410–470 ms and +82–85 MiB
 * (npm run bench -- market-live measures it again, in fresh child processes).
 * If the file layout ever changes, we fall back to `import('ccxt')` and take the named class.
 */

/** The part of a ccxt Exchange instance the live source uses. ccxt's outputs are `unknown` on purpose: they are validated. */
export interface CcxtExchange {
  id: string;
  urls: Record<string, unknown>;
  timeframes?: Record<string, unknown>;
  markets?: Record<string, unknown>;
  features?: Record<string, unknown>;
  precisionMode?: number;
  timeout: number;
  enableRateLimit: boolean;
  rateLimit: number;
  loadMarkets(reload?: boolean): Promise<unknown>;
  fetchOHLCV(symbol: string, timeframe: string, since?: number, limit?: number, params?: Record<string, unknown>): Promise<unknown>;
  fetchTicker(symbol: string): Promise<unknown>;
  fetchOrderBook(symbol: string, limit?: number): Promise<unknown>;
  fetchTrades(symbol: string, since?: number, limit?: number): Promise<unknown>;
  close?(): Promise<unknown>;
  /** ccxt internal, wrapped per instance to see each response's status and headers (see live-source.ts) */
  handleRestResponse?: (response: unknown, ...rest: unknown[]) => Promise<unknown>;
  /** ccxt internal: the undici Agent ccxt creates per instance (keep-alive sockets) */
  fetchDispatcher?: { destroy?(): Promise<void>; close?(): Promise<void> };
}

export type CcxtExchangeClass = new (config: Record<string, unknown>) => CcxtExchange;

/** The part of a ccxt.pro instance the live source uses for trade streams. */
export interface CcxtProExchange extends CcxtExchange {
  has: Record<string, unknown>;
  watchTrades(symbol: string, since?: number, limit?: number, params?: Record<string, unknown>): Promise<unknown>;
  setMarkets(markets: unknown, currencies?: unknown): unknown;
  /** ccxt refuses plain ws:// URLs (e.g. a local fake) until this has created its http.Agent */
  loadHttpProxyAgent?(): Promise<unknown>;
  close(): Promise<unknown>;
}

export type CcxtProExchangeClass = new (config: Record<string, unknown>) => CcxtProExchange;

export interface LoadedClass<C = CcxtExchangeClass> {
  ctor: C;
  /** how it was loaded: one file, or the whole ccxt package as a fallback */
  how: 'single-file' | 'full-import';
  ms: number;
}

const EXCHANGE_ID = /^[a-z][a-z0-9]*$/;

/** ccxt's js/src dir, or null when it cannot be located */
export function ccxtSourceDir(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const entry = require.resolve('ccxt'); // .../ccxt/dist/ccxt.cjs (the "require" condition)
    const dir = path.resolve(path.dirname(entry), '..', 'js', 'src');
    return existsSync(path.join(dir, 'base', 'Exchange.js')) ? dir : null;
  } catch {
    return null;
  }
}

const cache = new Map<string, Promise<LoadedClass>>();

/** The ccxt class for an exchange id, imported once per process. */
export function loadExchangeClass(id: string): Promise<LoadedClass> {
  return cached(id, false);
}

/**
 * The ccxt.pro (WebSocket) class for an exchange id, imported once per process: js/src/pro/<id>.js,
 * which imports the REST class and ccxt's ws client (the `ws` package) only. Rejects when ccxt
 * has no pro class for the exchange. The instance is a REST client too (it extends the REST class).
 */
export function loadProExchangeClass(id: string): Promise<LoadedClass<CcxtProExchangeClass>> {
  return cached(id, true) as Promise<LoadedClass<CcxtProExchangeClass>>;
}

function cached(id: string, pro: boolean): Promise<LoadedClass> {
  const key = `${pro ? 'pro:' : ''}${id}`;
  let p = cache.get(key);
  if (p === undefined) {
    p = load(id, pro);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function load(id: string, pro: boolean): Promise<LoadedClass> {
  if (!EXCHANGE_ID.test(id)) throw new Error(`not a ccxt exchange id: "${id}"`);
  const t0 = performance.now();
  const dir = ccxtSourceDir();
  const file = dir === null ? null : path.join(dir, ...(pro ? ['pro'] : []), `${id}.js`);
  if (file !== null && existsSync(file)) {
    try {
      const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
      if (typeof mod.default === 'function') {
        return { ctor: mod.default as CcxtExchangeClass, how: 'single-file', ms: performance.now() - t0 };
      }
    } catch {
      // fall through to the whole package
    }
  }
  const all = (await import('ccxt')) as unknown as Record<string, unknown> & { pro?: Record<string, unknown> };
  const ctor = pro ? all.pro?.[id] : all[id];
  if (typeof ctor !== 'function') throw new Error(pro ? `ccxt has no WebSocket (ccxt.pro) class for "${id}"` : `ccxt has no exchange "${id}"`);
  return { ctor: ctor as CcxtExchangeClass, how: 'full-import', ms: performance.now() - t0 };
}

/**
 * ccxt error class names along the prototype chain of an error (e.g. DDoSProtection →
 * NetworkError → OperationFailed → BaseError). Matching by name, not instanceof, keeps the
 * classification right even if ccxt's errors module were ever loaded twice (single file vs
 * package import); ccxt sets both the class names and `name` explicitly.
 */
export function ccxtErrorChain(e: unknown): Set<string> {
  const names = new Set<string>();
  if (!(e instanceof Error)) return names;
  for (let p: unknown = Object.getPrototypeOf(e); p !== null && p !== Error.prototype && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const ctor = (p as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === 'string') names.add(ctor.name);
  }
  if (names.has('BaseError')) names.add(e.name);
  return names;
}
