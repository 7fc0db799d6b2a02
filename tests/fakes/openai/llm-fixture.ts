import type Keyv from 'keyv';
import { pino } from 'pino';
import { ManualClock } from '../../../src/kernel/clock.js';
import { readSecrets } from '../../../src/kernel/config/secrets.js';
import { openStore } from '../../../src/kernel/store.js';
import { createLlm, llmConfigSchema, type Facts, type Llm, type LlmConfigInput } from '../../../src/llm/index.js';
import type { FakeOpenAI } from './index.js';

/** Secret values the tests look for in every request body (none may appear). */
export const TEST_ENV = {
  OPENAI_API_KEY: 'sk-test-0123456789abcdef',
  TELEGRAM_BOT_TOKEN: '123456789:AAH-telegram-secret-token',
  EXCHANGE_BINANCE_SECRET: 'binance-secret-value-xyz',
} as const;

/** Platform user ids the desk knows (config people[].ids). */
export const PERSONAL_IDS = ['1001', 'U_TOM', 'ann'];

export interface AuditEntry {
  kind: string;
  [k: string]: unknown;
}

export interface LlmFixture {
  llm: Llm;
  audit: AuditEntry[];
  clock: ManualClock;
  store: Keyv;
}

/**
 * An Llm wired like the desk wires it: real openai SDK pointed at the fake, a memory store (or
 * the one given), an audit sink that keeps entries, a manual clock, a silent logger.
 */
export async function llmAgainst(
  fake: FakeOpenAI | null,
  config: LlmConfigInput = {},
  opts: { env?: Record<string, string>; store?: Keyv; clock?: ManualClock } = {},
): Promise<LlmFixture> {
  const audit: AuditEntry[] = [];
  const clock = opts.clock ?? new ManualClock(Date.UTC(2026, 10, 27, 9, 0, 0));
  const store =
    opts.store ?? (await openStore({ kind: 'memory', dataDir: '.', sqliteFile: 'x', redisUrl: null, keyPrefix: '', sweepIntervalMs: 0 })).namespace('llm');
  const llm = createLlm({
    config: llmConfigSchema.parse({
      ...(fake ? { baseURL: `${fake.origin}/v1` } : {}),
      // fast tests: short waits, no backoff jitter worth waiting for
      retryBaseMs: 10,
      ...config,
    }),
    secrets: readSecrets(opts.env ?? TEST_ENV),
    store,
    audit: { append: (e) => void audit.push(e) },
    clock,
    logger: pino({ level: 'silent' }),
    personalIds: PERSONAL_IDS,
  });
  return { llm, audit, clock, store };
}

/** BTC/USDT at 31,706.33, down 3.24% over 24h: the facts most tests summarise. */
export function btcFacts(over: Partial<Facts> = {}): Facts {
  return {
    symbols: ['BTC/USDT'],
    numbers: { price: 31706.33, changePct: -3.24 },
    text: { window: '24h', signal: 'sell', regime: 'trending down' },
    ...over,
  };
}

/** the template text for btcFacts(), as the desk shows it when the LLM is not used */
export const BTC_TEMPLATE = 'BTC/USDT is at $31,706.33 (-3.24% over 24h). Signal: sell; regime: trending down.';

/** the messages of a recorded request body */
export function messagesOf(body: Record<string, unknown> | null): Array<{ role: string; content: string }> {
  return (body?.['messages'] ?? []) as Array<{ role: string; content: string }>;
}

/** the facts JSON inside a recorded request's user message */
export function factsSent(body: Record<string, unknown> | null): Facts {
  const user = messagesOf(body).find((m) => m.role === 'user')?.content ?? '';
  const start = user.indexOf('{');
  return JSON.parse(user.slice(start)) as Facts;
}
