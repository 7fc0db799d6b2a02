import { setTimeout as sleep } from 'node:timers/promises';
import { DiscordAPIError, HTTPError } from 'discord.js';

/**
 * One retry policy for every Discord call. discord.js already waits out 429s (Retry-After and
 * the X-RateLimit headers) and retries them itself; its own immediate 5xx retries are switched
 * off (rest.retries = 0) so that 5xx and network failures are retried here, with exponential
 * backoff and a bound, then given up on with the error for the caller to log.
 */

export interface RetryPolicy {
  /** tries in all, including the first */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 500, maxMs: 8_000 };

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);

/** worth another try: Discord's 5xx, a dropped connection, a request timeout */
export function retryable(e: unknown): boolean {
  if (e instanceof HTTPError) return e.status >= 500;
  if (e instanceof DiscordAPIError) return e.status >= 500;
  if (!(e instanceof Error)) return false;
  if (e.name === 'AbortError') return true;
  const code = (e as { code?: unknown }).code ?? (e.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

export async function withRetry<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy,
  onRetry: (info: { attempt: number; delayMs: number; error: string }) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= policy.attempts || !retryable(e)) throw e;
      const delayMs = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      onRetry({ attempt, delayMs, error: describeError(e) });
      await sleep(delayMs);
    }
  }
}

/**
 * An error as one line safe to log: interaction and webhook URLs carry the interaction token
 * (a credential for 15 minutes), so URL tokens are masked, and raw errors — whose fields
 * include the request body and URL — are never handed to the logger.
 */
export function describeError(e: unknown, secrets: readonly string[] = []): string {
  let text: string;
  if (e instanceof DiscordAPIError) text = `Discord API error ${e.status} (code ${String(e.code)}) on ${e.method.toUpperCase()} ${e.url}: ${e.message}`;
  else if (e instanceof HTTPError) text = `Discord HTTP ${e.status} on ${e.method.toUpperCase()} ${e.url}: ${e.message}`;
  else if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    text = `${e.name}${typeof code === 'string' || typeof code === 'number' ? ` (${code})` : ''}: ${e.message}`;
  } else text = String(e);
  return maskTokens(text, secrets);
}

export function maskTokens(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/\b(interactions|webhooks)\/(\d+)\/[A-Za-z0-9._-]+/g, '$1/$2/***');
  for (const s of secrets) if (s.length >= 6) out = out.split(s).join('***');
  return out;
}
