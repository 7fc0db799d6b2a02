import { performance } from 'node:perf_hooks';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, AzureOpenAI } from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { LlmConfig } from './config.js';

/**
 * The one place that talks to the endpoint, through the openai SDK: OpenAI, Azure OpenAI, or any
 * OpenAI-compatible server. Retries are ours, not the SDK's (maxRetries: 0), because the SDK
 * waits as long as a retry-after header says — an hour if the server says so — and a chat
 * summary must not; here a long retry-after ends the call and the template is used.
 */

export interface Completion {
  content: string | null;
  refusal: string | null;
  finishReason: string | null;
  /** null when the server sent no usage (some local servers) */
  usage: { tokensIn: number; tokensOut: number } | null;
  attempts: number;
  latencyMs: number;
}

export type EndpointFailureKind = 'timeout' | 'connection' | 'http' | 'malformed';

export class EndpointError extends Error {
  override readonly name = 'EndpointError';
  constructor(
    message: string,
    readonly kind: EndpointFailureKind,
    readonly attempts: number,
    readonly latencyMs: number,
  ) {
    super(message);
  }
}

export interface Endpoint {
  complete(body: ChatCompletionCreateParamsNonStreaming): Promise<Completion>;
  /** where calls go, without credentials: "https://api.openai.com/v1" */
  describe(): string;
}

// The SDK hands back whatever JSON the server sent, unchecked; a proxy's error page or a server
// bug must become a clean failure, not a crash deep in the caller.
const completionSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullable().optional(), refusal: z.string().nullable().optional() }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
  usage: z.object({ prompt_tokens: z.number().int().min(0), completion_tokens: z.number().int().min(0) }).nullable().optional(),
});

export function createEndpoint(
  config: Pick<LlmConfig, 'baseURL' | 'azure' | 'model' | 'timeoutMs' | 'maxRetries' | 'retryBaseMs' | 'maxRetryWaitMs'>,
  apiKey: string,
  logger: Logger,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Endpoint {
  const sdkLogger = {
    error: (msg: string) => logger.error({ part: 'openai-sdk' }, msg),
    warn: (msg: string) => logger.warn({ part: 'openai-sdk' }, msg),
    info: (msg: string) => logger.debug({ part: 'openai-sdk' }, msg),
    debug: () => undefined, // debug lines carry request bodies: never
  };
  const common = {
    apiKey,
    timeout: config.timeoutMs,
    maxRetries: 0,
    // explicit, so OPENAI_ORG_ID / OPENAI_PROJECT_ID / OPENAI_BASE_URL in the environment change nothing behind the config's back
    organization: null,
    project: null,
    logger: sdkLogger,
    logLevel: 'warn' as const,
  };
  let client: OpenAI;
  if (config.azure !== null) {
    const root = (config.baseURL ?? '').replace(/\/+$/, '');
    client = new AzureOpenAI({
      ...common,
      baseURL: root.endsWith('/openai') ? root : `${root}/openai`,
      apiVersion: config.azure.apiVersion,
      ...(config.azure.deployment !== null ? { deployment: config.azure.deployment } : {}),
    });
  } else {
    client = new OpenAI({ ...common, baseURL: config.baseURL ?? 'https://api.openai.com/v1' });
  }
  const shown = safeUrl(client.baseURL);

  return {
    describe: () => (config.azure !== null ? `${shown} (Azure, api-version ${config.azure.apiVersion})` : shown),
    async complete(body) {
      const started = performance.now();
      const elapsed = (): number => Math.round(performance.now() - started);
      for (let attempt = 1; ; attempt += 1) {
        let raw: unknown;
        try {
          raw = await client.chat.completions.create(body, { timeout: config.timeoutMs, maxRetries: 0 });
        } catch (err) {
          const f = classify(err, config.timeoutMs);
          if (!f.retryable || attempt > config.maxRetries) throw new EndpointError(f.reason, f.kind, attempt, elapsed());
          const wait = f.retryAfterMs ?? backoff(config.retryBaseMs, attempt);
          if (wait > config.maxRetryWaitMs) {
            throw new EndpointError(`${f.reason}; the endpoint asks to wait ${wait} ms, more than maxRetryWaitMs ${config.maxRetryWaitMs}`, f.kind, attempt, elapsed());
          }
          logger.info({ attempt, waitMs: wait, reason: f.reason }, 'llm endpoint failed, retrying');
          await sleep(wait);
          continue;
        }
        const parsed = completionSchema.safeParse(raw);
        if (!parsed.success) throw new EndpointError('malformed response: not a chat completion', 'malformed', attempt, elapsed());
        const choice = parsed.data.choices[0];
        const usage = parsed.data.usage;
        return {
          content: choice?.message.content ?? null,
          refusal: choice?.message.refusal ?? null,
          finishReason: choice?.finish_reason ?? null,
          usage: usage ? { tokensIn: usage.prompt_tokens, tokensOut: usage.completion_tokens } : null,
          attempts: attempt,
          latencyMs: elapsed(),
        };
      }
    },
  };
}

interface Failure {
  kind: EndpointFailureKind;
  reason: string;
  retryable: boolean;
  retryAfterMs?: number;
}

function classify(err: unknown, timeoutMs: number): Failure {
  if (err instanceof APIConnectionTimeoutError) return { kind: 'timeout', reason: `timeout after ${timeoutMs} ms`, retryable: true };
  if (err instanceof APIConnectionError) return { kind: 'connection', reason: `connection failed: ${oneLine(err.message)}`, retryable: true };
  if (err instanceof APIError && err.status !== undefined) {
    const status = err.status;
    // 429 "insufficient_quota" is billing, not load: waiting will not help.
    const retryable = (status === 408 || status === 409 || status === 429 || status >= 500) && err.code !== 'insufficient_quota';
    const retryAfterMs = retryAfter(err.headers);
    return {
      kind: 'http',
      reason: `HTTP ${status}${err.code ? ` ${err.code}` : ''}`,
      retryable,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  // A 200 whose JSON does not parse surfaces as a SyntaxError from the SDK.
  if (err instanceof SyntaxError) return { kind: 'malformed', reason: 'malformed response: body is not JSON', retryable: false };
  return { kind: 'connection', reason: `request failed: ${oneLine(err instanceof Error ? err.message : String(err))}`, retryable: false };
}

/** retry-after-ms (OpenAI's) or retry-after in seconds or as an HTTP date */
function retryAfter(headers: Headers | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const s = Number.parseFloat(value);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function backoff(baseMs: number, attempt: number): number {
  // full jitter on the upper quarter keeps instances from retrying in lock-step
  return Math.round(baseMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.25));
}

function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<unparseable url>';
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 200);
}
