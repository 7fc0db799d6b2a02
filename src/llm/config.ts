import { z } from 'zod';

/**
 * `llm:` in the desk config. Every limit has a default so `llm: {}` (or no section) is a working,
 * cautious setup; the API key never lives here (OPENAI_API_KEY, see kernel/config/secrets.ts).
 */

const money = z.number().min(0).max(1_000_000);
const tokens = z.number().int().min(0).max(1_000_000_000);

const budgetSchema = z
  .object({
    /** input + output tokens per UTC day; 0 stops LLM calls */
    tokensPerDay: tokens,
    /** cost per UTC day in USD, from `pricing`; 0 stops LLM calls (unless pricing is 0) */
    usdPerDay: money,
  })
  .strict();

export const llmConfigSchema = z
  .object({
    /** false: templates only, even with a key */
    enabled: z.boolean().default(true),
    /** OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1 (llama.cpp, vLLM, Ollama) or Azure's …/openai/v1/; null = https://api.openai.com/v1 */
    baseURL: z.string().url().nullable().default(null),
    /**
     * Azure OpenAI deployments API: the SDK's AzureOpenAI class with `baseURL` as the resource
     * endpoint (https://<resource>.openai.azure.com), the `api-version` query and the `api-key`
     * header. Not needed for Azure's v1 API, which is plain baseURL-style.
     */
    azure: z
      .object({
        apiVersion: z.string().min(1),
        /** deployment name; null = the `model` value is the deployment */
        deployment: z.string().min(1).nullable().default(null),
      })
      .strict()
      .nullable()
      .default(null),
    model: z.string().min(1).default('gpt-4o-mini'),
    /** one HTTP attempt; a timed-out attempt is retried like a 5xx */
    timeoutMs: z.number().int().min(100).max(300_000).default(15_000),
    /** retries after the first attempt, on timeouts, connection errors, 408/409/429 and 5xx */
    maxRetries: z.number().int().min(0).max(5).default(2),
    /** backoff before retry n is retryBaseMs × 2^n (with jitter) unless the endpoint sends retry-after */
    retryBaseMs: z.number().int().min(0).max(60_000).default(500),
    /** a retry-after longer than this is not waited for: the summary falls back to the template now */
    maxRetryWaitMs: z.number().int().min(0).max(120_000).default(5_000),
    /** sent as max_completion_tokens (or max_tokens, see below); also the output side of the budget estimate */
    maxOutputTokens: z.number().int().min(16).max(16_000).default(300),
    /** older local servers only know max_tokens */
    maxTokensParam: z.enum(['max_completion_tokens', 'max_tokens']).default('max_completion_tokens'),
    /** null: not sent (some models accept only their default) */
    temperature: z.number().min(0).max(2).nullable().default(null),
    /** json_schema (structured output); json_object for servers without json_schema support */
    responseFormat: z.enum(['json_schema', 'json_object']).default('json_schema'),
    /** summaries longer than this are rejected (not cut: cutting could split a number) */
    maxOutputChars: z.number().int().min(40).max(4_000).default(600),
    budget: z
      .object({
        desk: budgetSchema.default({ tokensPerDay: 200_000, usdPerDay: 2 }),
        person: budgetSchema.default({ tokensPerDay: 50_000, usdPerDay: 0.5 }),
      })
      .strict()
      .default({ desk: { tokensPerDay: 200_000, usdPerDay: 2 }, person: { tokensPerDay: 50_000, usdPerDay: 0.5 } }),
    rateLimit: z
      .object({
        /** LLM calls one person may cause per rolling minute; 0 = none */
        perPersonPerMinute: z.number().int().min(0).max(10_000).default(6),
      })
      .strict()
      .default({ perPersonPerMinute: 6 }),
    /** USD per 1,000 tokens, for cost accounting (defaults: gpt-4o-mini list price); 0 for a local server */
    pricing: z
      .object({ inputPer1k: money.default(0.00015), outputPer1k: money.default(0.0006) })
      .strict()
      .default({ inputPer1k: 0.00015, outputPer1k: 0.0006 }),
    breaker: z
      .object({
        /** consecutive endpoint failures (after retries) that open the circuit */
        failures: z.number().int().min(1).max(100).default(3),
        /** how long the endpoint is skipped before one trial call */
        cooldownMs: z.number().int().min(100).max(86_400_000).default(60_000),
      })
      .strict()
      .default({ failures: 3, cooldownMs: 60_000 }),
    /** pin a prompt to a version, e.g. { "market-summary": 1 }; unpinned prompts use their highest version */
    prompts: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), z.number().int().min(1)).default({}),
  })
  .strict()
  .refine((c) => c.azure === null || c.baseURL !== null, {
    message: 'llm.azure needs llm.baseURL set to the resource endpoint (https://<resource>.openai.azure.com)',
    path: ['baseURL'],
  });

export type LlmConfig = z.output<typeof llmConfigSchema>;
/** what the schema fills in for `llm: {}` */
export type LlmConfigInput = z.input<typeof llmConfigSchema>;

export const LLM_CONFIG_DEFAULTS: LlmConfig = llmConfigSchema.parse({});
