import type { Logger } from 'pino';
import type { MarketConfig, TradingConfig } from '../../kernel/config/schema.js';
import { exchangeSecretEnv, type Secrets } from '../../kernel/config/secrets.js';
import type { MarketData } from '../../market/service.js';
import { CcxtBroker } from './ccxt-broker.js';
import { LiveBrokerError } from './errors.js';

export interface LiveBrokerDeps {
  /** the desk config (trading.live picks the exchange and sandbox; market.urls / timeoutMs are reused) */
  config: { trading: Pick<TradingConfig, 'live'>; market?: Pick<MarketConfig, 'urls' | 'timeoutMs'> };
  secrets: Pick<Secrets, 'get'>;
  market: MarketData;
  clock: { now(): number };
  logger: Logger;
  /** API base URL override; default market.urls[exchange] (a desk pointed at a fake exchange trades on it too) */
  apiUrl?: string;
  /** per HTTP request; default market.timeoutMs, else 10 s */
  timeoutMs?: number;
}

/**
 * The live broker for trading.live, its keys read from the environment only
 * (EXCHANGE_<ID>_API_KEY / _SECRET / _PASSWORD, see secrets.ts). Throws a LiveBrokerError
 * naming the missing variables — never their values — and refuses an exchange with no sandbox
 * while trading.live.sandbox is on. No request is made here: reconcile() is the first.
 */
export async function createLiveBroker(d: LiveBrokerDeps): Promise<CcxtBroker> {
  const { exchange, sandbox } = d.config.trading.live;
  const keyEnv = exchangeSecretEnv(exchange, 'apiKey');
  const secretEnv = exchangeSecretEnv(exchange, 'secret');
  const apiKey = d.secrets.get(keyEnv);
  const secret = d.secrets.get(secretEnv);
  const missing = [apiKey === undefined ? keyEnv : null, secret === undefined ? secretEnv : null].filter((x): x is string => x !== null);
  if (apiKey === undefined || secret === undefined) {
    throw new LiveBrokerError('config', `live trading on ${exchange} needs its API key in the environment: set ${missing.join(' and ')}`);
  }
  const password = d.secrets.get(exchangeSecretEnv(exchange, 'password'));
  const apiUrl = d.apiUrl ?? d.config.market?.urls[exchange];
  const broker = new CcxtBroker({
    exchange,
    sandbox,
    credentials: { apiKey, secret, ...(password !== undefined ? { password } : {}) },
    ...(apiUrl !== undefined ? { apiUrl } : {}),
    market: d.market,
    clock: d.clock,
    timeoutMs: d.timeoutMs ?? d.config.market?.timeoutMs ?? 10_000,
    logger: d.logger,
  });
  await broker.start();
  return broker;
}
