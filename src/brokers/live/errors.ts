import { UserError } from '../../kernel/errors.js';
import { ccxtErrorChain } from '../../market/live/ccxt-loader.js';

/**
 * How the live broker turns ccxt / exchange failures into sentences a trader can act on.
 * Messages never carry a credential: the exchange's own words are kept (Binance's `msg`), URLs
 * (with their signed query strings) are cut out, and every credential value is masked as a last
 * line of defence.
 */

export type LiveErrorKind =
  /** the exchange refused the key, the signature or the permissions */
  | 'auth'
  /** the request's timestamp was outside the exchange's receive window: the host clock is off */
  | 'clock'
  /** the exchange already has an open order with this client id */
  | 'duplicate'
  /** the exchange has no such order */
  | 'not-found'
  /** the exchange answered no (bad order, insufficient funds, unknown symbol...) */
  | 'rejected'
  /** no (usable) answer: timeout, refused connection, 5xx, rate limit */
  | 'network'
  /** an order was sent and no answer came back, and a lookup could not tell what happened */
  | 'unknown-outcome'
  /** the broker cannot start: missing keys, no sandbox, unknown exchange */
  | 'config'
  /** the exchange answered something that does not validate, or ccxt failed on it (not a ccxt error) */
  | 'bad-data';

export class LiveBrokerError extends UserError {
  constructor(
    readonly kind: LiveErrorKind,
    message: string,
    /** the exchange's own error code when it sent one (Binance: -1022, -2010...) */
    readonly code?: number,
  ) {
    super(message);
  }
}

export interface ExchangeFailure {
  kind: Exclude<LiveErrorKind, 'unknown-outcome' | 'config'>;
  /** the exchange's code and words, or ccxt's reason without URLs */
  reason: string;
  code?: number;
}

// Binance-style error bodies inside ccxt's messages: `binance {"code":-1022,"msg":"..."}`
const BODY = /\{\s*"code"\s*:\s*-?\d+\s*,\s*"msg"\s*:\s*"(?:[^"\\]|\\.)*"\s*\}/;

function exchangeBody(message: string): { code: number; msg: string } | null {
  const m = BODY.exec(message);
  if (m === null) return null;
  try {
    const v: unknown = JSON.parse(m[0]);
    if (v !== null && typeof v === 'object' && 'code' in v && 'msg' in v && typeof v.code === 'number' && typeof v.msg === 'string') return { code: v.code, msg: v.msg };
  } catch {
    // not JSON after all: fall through
  }
  return null;
}

/** ccxt's message without the exchange id prefix, HTTP method, URLs or signatures */
function withoutUrls(message: string, exchange: string): string {
  return message
    .replace(/\b(GET|POST|PUT|DELETE)\s+https?:\/\/\S+/g, '')
    .replace(/https?:\/\/\S+/g, '<url>')
    .replace(/signature=[0-9a-fA-F]+/g, 'signature=…')
    .replace(new RegExp(`^${exchange}\\s+`), '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

// Binance codes that say what happened more precisely than ccxt's class for them
const AUTH_CODES = new Set([-1002, -1022, -2014, -2015]);
const NOT_FOUND_CODES = new Set([-2011, -2013]);

/** What a ccxt error means for an order. */
export function classifyFailure(e: unknown, exchange: string): ExchangeFailure {
  const message = e instanceof Error ? e.message : String(e);
  const body = exchangeBody(message);
  const chain = ccxtErrorChain(e);
  if (body !== null) {
    const reason = `${body.msg} (${body.code})`;
    // -2015 after a first success is reported by ccxt as DDoSProtection (a NetworkError); the
    // exchange's code is the truth
    if (AUTH_CODES.has(body.code)) return { kind: 'auth', reason, code: body.code };
    if (body.code === -1021) return { kind: 'clock', reason, code: body.code };
    if (body.code === -2010 && /duplicate order/i.test(body.msg)) return { kind: 'duplicate', reason, code: body.code };
    if (NOT_FOUND_CODES.has(body.code)) return { kind: 'not-found', reason, code: body.code };
    if (body.code === -1003 || body.code === -1015 || body.code === -1007 || body.code === -1001) return { kind: 'network', reason, code: body.code };
    return { kind: 'rejected', reason, code: body.code };
  }
  const reason = withoutUrls(message, exchange) || (e instanceof Error ? e.name : 'error');
  // not one of ccxt's errors: ccxt tripped over an answer it could not read (e.g. a TypeError on
  // a cut-off body) — nothing says the exchange refused anything
  if (!chain.has('BaseError')) return { kind: 'bad-data', reason };
  if (chain.has('DuplicateOrderId')) return { kind: 'duplicate', reason };
  if (chain.has('AuthenticationError') || chain.has('PermissionDenied') || chain.has('AccountSuspended')) return { kind: 'auth', reason };
  if (chain.has('InvalidNonce')) return { kind: 'clock', reason };
  if (chain.has('OrderNotFound')) return { kind: 'not-found', reason };
  if (chain.has('NetworkError')) return { kind: 'network', reason };
  return { kind: 'rejected', reason };
}

/** The sentence for a failure of `op` ("placing db-1a2b… BTC/USDT", "reading balances"). */
export function failureMessage(f: ExchangeFailure, exchange: string, op: string, envNames: { apiKey: string; secret: string }): string {
  switch (f.kind) {
    case 'auth':
      if (f.code === -1022) return `${exchange} refused ${op}: the request signature is not valid (${f.reason}) — ${envNames.secret} does not belong to ${envNames.apiKey}`;
      return `${exchange} refused ${op}: the API key was not accepted (${f.reason}) — check ${envNames.apiKey} / ${envNames.secret} and the key's permissions`;
    case 'clock':
      return `${exchange} refused ${op}: ${f.reason} — this host's clock differs from the exchange's by more than the receive window; sync it (NTP)`;
    case 'network':
      return `${exchange} did not answer ${op}: ${f.reason}`;
    case 'not-found':
      return `${exchange} has no such order (${op}): ${f.reason}`;
    case 'duplicate':
      return `${exchange} already has an open order with this client id (${op}): ${f.reason}`;
    case 'rejected':
      return `${exchange} refused ${op}: ${f.reason}`;
    case 'bad-data':
      return `${exchange} gave an unreadable answer to ${op}: ${f.reason}`;
  }
}

/** Replaces every credential value in a text (longer than 3 chars, so masking stays meaningful). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 3) out = out.split(s).join('****');
  return out;
}
