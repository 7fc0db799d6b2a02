import type Keyv from 'keyv';
import type { Logger } from 'pino';
import type { Clock } from '../kernel/clock.js';
import type { Secrets } from '../kernel/config/secrets.js';
import { Breaker } from './breaker.js';
import { Budgets, costUsd, type Usage } from './budget.js';
import { checkAnswer } from './check.js';
import type { LlmConfig } from './config.js';
import { createEndpoint, EndpointError, type Endpoint } from './endpoint.js';
import { factsSchema, type Facts } from './facts.js';
import { KeyLocks } from './locks.js';
import { defaultPromptsDir, loadPrompts, type Prompt } from './prompts.js';
import { RateLimiter } from './rate-limit.js';
import { createRedactor, type Redactor } from './redact.js';
import { buildRequest, estimateInputTokens } from './request.js';
import { factProblems } from './spec.js';
import { KNOWN_CURRENCIES } from './symbols.js';
import { renderTemplate } from './template.js';

export interface LlmOptions {
  config: LlmConfig;
  secrets: Secrets;
  /** the LLM's own namespace, e.g. store.namespace('llm'): budgets, rate limits, breaker */
  store: Keyv;
  audit: { append(e: { kind: string; [k: string]: unknown }): unknown };
  clock: Clock;
  logger: Logger;
  /** default: <repo>/prompts */
  promptsDir?: string;
  /** platform user ids the desk knows (config people[].ids): redacted from anything sent */
  personalIds?: readonly string[];
  /** more currency codes to treat as symbols in the output check, e.g. the exchange's bases */
  knownCurrencies?: Iterable<string>;
  /** told about every call after it is audited (the desk's metrics count tokens, cost and outcomes) */
  onCall?: (c: { tokensIn: number; tokensOut: number; costUsd: number; outcome: string }) => void;
}

export interface SummariseRequest {
  /** prompt id, e.g. "market-summary" */
  prompt: string;
  facts: Facts;
  /** the person asking (budget and rate limit); null for scheduled work (desk budget only) */
  person: string | null;
  channel?: string;
  /** more strings to redact for this call (e.g. the asker's own platform id) */
  redact?: readonly string[];
}

export interface Summary {
  text: string;
  source: 'llm' | 'template';
  /** why the template was used; absent when source is llm */
  reason?: string;
  promptId: string;
  promptVersion: number;
}

export type LlmOutcome = 'accepted' | 'rejected' | 'fallback';

export interface Llm {
  /** false without OPENAI_API_KEY or with llm.enabled false: every summary is the template */
  readonly enabled: boolean;
  /**
   * A summary of `facts` by the prompt. Never throws for LLM problems (no key, budget, rate
   * limit, open circuit, timeout, HTTP error, bad answer): those give the template and a reason.
   * Throws only for caller bugs (unknown prompt id, facts that do not fit the prompt) and when
   * the audit log refuses the record.
   */
  summarise(req: SummariseRequest): Promise<Summary>;
  /** the one line the desk logs at start-up */
  startupNotice(): string;
  /** prompt ids available, with the version in use */
  prompts(): Array<{ id: string; version: number; description: string }>;
  /** today's (UTC) usage for the desk and, if given, a person */
  usageToday(person?: string): Promise<{ desk: Usage; person: Usage | null }>;
}

export const NO_KEY_NOTICE = 'no OPENAI_API_KEY: summaries use templates';

export function createLlm(opts: LlmOptions): Llm {
  const { config, clock } = opts;
  const log = opts.logger.child({ part: 'llm' });
  const registry = loadPrompts(opts.promptsDir ?? defaultPromptsDir(), config.prompts);
  const apiKey = opts.secrets.get('OPENAI_API_KEY');
  const disabledReason = !config.enabled ? 'llm.enabled is false' : apiKey === undefined ? 'no OPENAI_API_KEY' : null;
  const endpoint: Endpoint | null = disabledReason === null && apiKey !== undefined ? createEndpoint(config, apiKey, log) : null;

  const locks = new KeyLocks();
  const budgets = new Budgets(opts.store, config, locks);
  const rate = new RateLimiter(opts.store, config.rateLimit.perPersonPerMinute, locks);
  // A trial call can take every attempt plus every wait; its claim must outlive it.
  const trialTtlMs = (config.maxRetries + 1) * (config.timeoutMs + config.maxRetryWaitMs) + 5_000;
  const breaker = new Breaker(opts.store, { ...config.breaker, trialTtlMs }, locks);
  const known = new Set([...KNOWN_CURRENCIES, ...[...(opts.knownCurrencies ?? [])].map((c) => c.toUpperCase())]);
  const secretValues = opts.secrets.values();
  const baseIds = opts.personalIds ?? [];
  const baseRedactor = createRedactor({ secrets: secretValues, personalIds: baseIds });

  interface CallRecord {
    outcome: LlmOutcome;
    reason?: string;
    text: string;
    model: string | null;
    tokensIn: number;
    tokensOut: number;
    tokensEstimated: boolean;
    attempts: number;
    latencyMs: number;
  }

  const finish = (prompt: Prompt, req: SummariseRequest, redactor: Redactor, r: CallRecord): Summary => {
    // Reasons can carry server text; they go to the audit log and the caller, so scrub them too.
    const reason = r.reason === undefined ? undefined : redactor.text(r.reason).slice(0, 300);
    const cost = costUsd(config.pricing, r.tokensIn, r.tokensOut);
    // Never the prompt text or the facts: ids, counts and the outcome only.
    opts.audit.append({
      kind: 'llm',
      promptId: prompt.id,
      promptVersion: prompt.version,
      model: r.model,
      person: req.person,
      ...(req.channel !== undefined ? { channel: req.channel } : {}),
      outcome: r.outcome,
      ...(reason !== undefined ? { reason } : {}),
      source: r.outcome === 'accepted' ? 'llm' : 'template',
      tokensIn: r.tokensIn,
      tokensOut: r.tokensOut,
      ...(r.tokensEstimated ? { tokensEstimated: true } : {}),
      costUsd: round6(cost),
      latencyMs: r.latencyMs,
      attempts: r.attempts,
    });
    try {
      opts.onCall?.({ tokensIn: r.tokensIn, tokensOut: r.tokensOut, costUsd: cost, outcome: r.outcome });
    } catch (err) {
      log.warn({ err }, 'llm call observer failed');
    }
    const fields = { promptId: prompt.id, promptVersion: prompt.version, outcome: r.outcome, reason, attempts: r.attempts, latencyMs: r.latencyMs };
    if (r.outcome === 'accepted') log.info(fields, 'llm summary accepted');
    else if (r.model === null) log.debug(fields, 'summary from template');
    else log.warn(fields, `llm summary ${r.outcome}: template used`);
    return {
      text: r.text,
      source: r.outcome === 'accepted' ? 'llm' : 'template',
      ...(reason !== undefined ? { reason } : {}),
      promptId: prompt.id,
      promptVersion: prompt.version,
    };
  };

  const summarise = async (req: SummariseRequest): Promise<Summary> => {
    const prompt = registry.get(req.prompt);
    if (!prompt) throw new Error(`unknown prompt "${req.prompt}" (have: ${registry.ids().join(', ')})`);
    const parsed = factsSchema.safeParse(req.facts);
    if (!parsed.success) throw new Error(`facts for ${prompt.id}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const facts = parsed.data;
    const problems = factProblems(prompt.facts, facts);
    if (problems.length > 0) throw new Error(`facts for ${prompt.id} v${prompt.version}: ${problems.join('; ')}`);

    // Rendered first: it is the answer whenever anything below goes wrong.
    const template = renderTemplate(prompt.template, facts);
    const redactor = req.redact && req.redact.length > 0 ? createRedactor({ secrets: secretValues, personalIds: [...baseIds, ...req.redact] }) : baseRedactor;
    const none = { text: template, tokensIn: 0, tokensOut: 0, tokensEstimated: false, attempts: 0, latencyMs: 0 };
    if (endpoint === null) return finish(prompt, req, redactor, { ...none, outcome: 'fallback', reason: disabledReason ?? 'disabled', model: null });
    const fallback = (reason: string, extra: Partial<CallRecord> = {}): Summary =>
      finish(prompt, req, redactor, { ...none, outcome: 'fallback', reason, model: config.model, ...extra });

    const now = clock.now();
    const sent = redactor.facts(facts);
    const body = buildRequest(config, prompt, sent);
    // Belt and braces: redaction works on the facts; this looks at the exact bytes to be sent.
    if (redactor.leaks(JSON.stringify(body))) return fallback('a secret value survived redaction; nothing sent');
    const estimate = { tokensIn: estimateInputTokens(body), tokensOut: config.maxOutputTokens };

    let ticket: Awaited<ReturnType<Breaker['acquire']>>;
    try {
      ticket = await breaker.acquire(now);
      if ('refused' in ticket) return fallback(ticket.refused);
    } catch (err) {
      // Without the store no budget or breaker can be enforced: fail closed, keep the template.
      return fallback(`llm store unavailable: ${errorMessage(err)}`);
    }
    try {
      try {
        const refusal = await budgets.refusal(now, req.person, estimate);
        if (refusal) return fallback(refusal);
        if (req.person !== null && !(await rate.tryAcquire(req.person, now))) {
          return fallback(`rate limit: ${config.rateLimit.perPersonPerMinute} calls per minute per person`);
        }
      } catch (err) {
        return fallback(`llm store unavailable: ${errorMessage(err)}`);
      }

      let completion;
      try {
        completion = await endpoint.complete(body);
      } catch (err) {
        const failure = err instanceof EndpointError ? err : null;
        if (!failure) log.error({ err }, 'llm call failed unexpectedly');
        const opened = await breaker.failure(clock.now()).catch(() => false);
        const reason = failure ? failure.message : `internal error: ${errorMessage(err)}`;
        return fallback(opened ? `${reason}; circuit open for ${config.breaker.cooldownMs} ms` : reason, {
          attempts: failure?.attempts ?? 1,
          latencyMs: failure?.latencyMs ?? 0,
        });
      }
      await breaker.success().catch((err: unknown) => log.warn({ err }, 'llm breaker reset failed'));

      // No usage from the server (some local ones): count the estimate rather than nothing.
      const usage = completion.usage ?? estimate;
      const spent = { tokensIn: usage.tokensIn, tokensOut: usage.tokensOut, tokensEstimated: completion.usage === null, attempts: completion.attempts, latencyMs: completion.latencyMs };
      await budgets.add(clock.now(), req.person, usage.tokensIn, usage.tokensOut).catch((err: unknown) => log.error({ err }, 'llm usage not recorded'));
      const rejected = (reason: string): Summary => finish(prompt, req, redactor, { ...spent, outcome: 'rejected', reason, text: template, model: config.model });

      if (completion.refusal) return rejected('model refused');
      if (completion.finishReason === 'length') return rejected('answer cut off at maxOutputTokens');
      if (completion.content === null) return rejected('answer has no content');
      const check = checkAnswer(completion.content, {
        facts: sent,
        maxChars: Math.min(config.maxOutputChars, prompt.maxChars ?? Number.POSITIVE_INFINITY),
        knownCurrencies: known,
      });
      if (!check.ok) return rejected(check.reason);
      return finish(prompt, req, redactor, { ...spent, outcome: 'accepted', text: check.text, model: config.model });
    } finally {
      if (ticket.trial) await ticket.release().catch(() => undefined);
    }
  };

  return {
    enabled: endpoint !== null,
    summarise,
    startupNotice: () => {
      if (apiKey === undefined && config.enabled) return NO_KEY_NOTICE;
      if (endpoint === null) return `${disabledReason ?? 'llm disabled'}: summaries use templates`;
      const d = config.budget.desk;
      return `LLM summaries: ${config.model} at ${endpoint.describe()}; desk budget ${d.tokensPerDay} tokens and $${d.usdPerDay} a day; templates on any failure`;
    },
    prompts: () =>
      registry.ids().map((id) => {
        const p = registry.get(id);
        return { id, version: p?.version ?? 0, description: p?.description ?? '' };
      }),
    usageToday: (person) => budgets.usage(clock.now(), person ?? null),
  };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
