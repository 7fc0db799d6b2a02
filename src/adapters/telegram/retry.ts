import type { Logger } from 'pino';
import { TelegramError } from 'telegraf';

export interface RetryPolicy {
  /** tries in all, the first included */
  maxAttempts: number;
  /** backoff after a 5xx or a network error: base × 2^(try−1), ±20 % */
  baseDelayMs: number;
  maxDelayMs: number;
  /** a 429 asking to wait longer than this is given up at once: holding a chat's queue for minutes helps nobody */
  maxRetryAfterS: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 15_000, maxRetryAfterS: 120 };

/** A Bot API call that failed for good; its message never carries the token. */
export class TelegramDeliveryError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
  ) {
    super(message);
    this.name = 'TelegramDeliveryError';
  }
}

/**
 * The token sits in every Bot API URL (/bot<token>/method), so a network error's message can
 * carry it. Errors are described from their message with the token and anything shaped like
 * one masked, and never logged as objects (their stacks may hold the original text).
 */
export function describeError(err: unknown, token: string): string {
  const raw = err instanceof Error ? err.message : String(err);
  return maskToken(raw, token);
}

export function maskToken(text: string, token: string): string {
  let out = token.length > 0 ? text.split(token).join('[REDACTED]') : text;
  out = out.replace(/\d{3,}:[A-Za-z0-9_-]{20,}/g, '[REDACTED]');
  return out;
}

export type Verdict = { retry: false } | { retry: true; waitMs: number; why: string };

/** Whether a failed Bot API call is worth another try (429, 5xx, network), and after how long. */
export function classify(err: unknown, attempt: number, p: RetryPolicy): Verdict {
  if (err instanceof TelegramError) {
    if (err.code === 429) {
      const after = err.parameters?.retry_after ?? 1;
      if (after > p.maxRetryAfterS) return { retry: false };
      return { retry: true, waitMs: after * 1000, why: `429, retry after ${after} s` };
    }
    if (err.code >= 500) return { retry: true, waitMs: backoff(attempt, p), why: `${err.code}` };
    return { retry: false };
  }
  // node-fetch's FetchError: connection refused or reset, a timeout — the platform may come back
  if (err instanceof Error && err.name === 'FetchError') return { retry: true, waitMs: backoff(attempt, p), why: 'network error' };
  return { retry: false };
}

function backoff(attempt: number, p: RetryPolicy): number {
  const base = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One Bot API call with Telegram's flood control honoured (429: wait `retry_after` seconds) and
 * server errors retried with exponential backoff, a bounded number of times. Telegraf retries
 * neither for calls a bot makes itself.
 */
export async function withRetry<T>(method: string, call: () => Promise<T>, ctx: { policy: RetryPolicy; log: Logger; token: string }): Promise<T> {
  const { policy, log, token } = ctx;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const v = classify(err, attempt, policy);
      const error = describeError(err, token);
      const code = err instanceof TelegramError ? err.code : undefined;
      if (!v.retry) throw new TelegramDeliveryError(`Telegram ${method} failed: ${error}`, code);
      if (attempt >= policy.maxAttempts) {
        throw new TelegramDeliveryError(`Telegram ${method} failed after ${attempt} attempts: ${error}`, code);
      }
      log.warn({ method, attempt, waitMs: v.waitMs, error }, `telegram ${method}: ${v.why}; retrying`);
      await sleep(v.waitMs);
    }
  }
}
