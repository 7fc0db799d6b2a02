import { z } from 'zod';
import { alertsConfigSchema } from '../alerts/router.js';
import { llmConfigSchema } from '../../llm/config.js';

/**
 * The shape of config/default.yaml and of any file DESKBOT_CONFIG points at.
 * Secrets never live here: they come from environment variables (see secrets.ts).
 * `.strict()` everywhere so a misspelt key is an error naming it, not a silent default.
 */

const permission = z
  .string()
  .regex(/^(\*|[a-z][a-z0-9-]*:(\*|[a-z][a-z0-9-]*))$/, 'a permission like "market:read", "trade:*" or "*"');

const personId = z.string().regex(/^[a-z][a-z0-9_-]*$/, 'a lower-case person id like "alice"');

export const personSchema = z
  .object({
    name: z.string().min(1),
    roles: z.array(z.string().min(1)).default([]),
    /** platform → that platform's user id(s) for this person, e.g. { telegram: "12345", console: "operator" } */
    ids: z.record(z.string().min(1), z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])),
  })
  .strict();

/**
 * Channel rules only narrow what roles grant. `only`: the permissions may be used in the listed
 * channels and nowhere else. `deny`: the permissions may not be used in the listed channels.
 * A channel pattern is "platform:channelId", with "*" for any part ("console:*", "slack:C0DESK").
 */
export const channelRuleSchema = z
  .object({
    name: z.string().min(1).optional(),
    permissions: z.array(permission).min(1),
    effect: z.enum(['only', 'deny']),
    channels: z.array(z.string().regex(/^[a-z*][a-z0-9*]*:.+$/, 'a channel like "slack:C0DESK" or "console:*"')).min(1),
  })
  .strict();

export const scheduleConfigSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a lower-case name like "morning-digest"'),
    cron: z.string().min(9),
    timezone: z.string().optional(),
    /** which registered job kind runs, e.g. "digest" (provided by a plugin) */
    kind: z.string().min(1),
    targets: z.array(z.string()).default([]),
    enabled: z.boolean().default(true),
  })
  .strict();

const exchangeId = z.string().regex(/^[a-z][a-z0-9]*$/, 'a ccxt exchange id like "binance"');

export const marketConfigSchema = z
  .object({
    /** auto: replay when a recorded-data dir is set (DESKBOT_MARKET_DIR or market.dir), else live */
    source: z.enum(['auto', 'live', 'replay']).default('auto'),
    /** recorded candles (<exchange>_<BASE>-<QUOTE>_<tf>.csv) and trades/ for replay and downloads */
    dir: z.string().min(1).nullable().default(null),
    /** replay: "now" as an ISO time; default the last recorded candle */
    replayTime: z.iso.datetime({ offset: true }).nullable().default(null),
    exchanges: z.array(exchangeId).min(1).default(['binance', 'kraken']),
    /** exchange used when a command names none */
    defaultExchange: exchangeId.default('binance'),
    /** quote currency for a bare symbol ("btc" → BTC/USDT), per exchange */
    quotes: z.record(exchangeId, z.string().regex(/^[A-Z0-9]+$/)).default({ binance: 'USDT', kraken: 'USD' }),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    retries: z.number().int().min(0).max(10).default(3),
    breaker: z
      .object({
        /** consecutive failures that open an exchange's circuit */
        failures: z.number().int().min(1).max(100).default(5),
        /** how long it stays open before one trial request */
        cooldownMs: z.number().int().min(100).max(3_600_000).default(30_000),
      })
      .strict()
      .default({ failures: 5, cooldownMs: 30_000 }),
    /** read-through cache TTLs in the kernel store (shared in Redis mode) */
    cacheTtlMs: z
      .object({
        markets: z.number().int().min(0).default(3_600_000),
        ticker: z.number().int().min(0).default(5_000),
        candles: z.number().int().min(0).default(30_000),
        orderBook: z.number().int().min(0).default(2_000),
        trades: z.number().int().min(0).default(5_000),
      })
      .strict()
      .default({ markets: 3_600_000, ticker: 5_000, candles: 30_000, orderBook: 2_000, trades: 5_000 }),
    /** per-exchange API base URL override (tests point ccxt at the fake exchange) */
    urls: z.record(exchangeId, z.string().url()).default({}),
    /** per-exchange WebSocket base URL override for trade streams (tests point ccxt.pro at the fake exchange) */
    wsUrls: z.record(exchangeId, z.string().url()).default({}),
  })
  .strict()
  .refine((m) => m.exchanges.includes(m.defaultExchange), { message: 'defaultExchange must be one of exchanges', path: ['defaultExchange'] });

export type MarketConfig = z.output<typeof marketConfigSchema>;

const currency = z.string().regex(/^[A-Z0-9]{2,12}$/, 'a currency code like "USDT"');
const rate = z.number().min(0).max(0.05);

/** Orders: which broker, how the paper broker fills, how halts are lifted. */
export const tradingConfigSchema = z
  .object({
    /** paper (the default) fills on real prices without touching an exchange; live sends to the exchange once an admin arms it */
    mode: z.enum(['paper', 'live']).default('paper'),
    /** /resume needs a different person than the one who halted */
    fourEyesResume: z.boolean().default(true),
    /** channels told about halts and resumes, on any platform: "slack:C0DESK", "telegram:-100123", "console:terminal" */
    notify: z.array(z.string().regex(/^[a-z][a-z0-9]*:[^:]+(:.+)?$/, 'a channel like "slack:C0DESK"')).default([]),
    /** how often resting orders are re-checked (paper: price crossing; live: exchange status); 0 = never */
    pollMs: z.number().int().min(0).max(3_600_000).default(5_000),
    paper: z
      .object({
        /** starting balances of the paper account */
        balances: z.record(currency, z.number().nonnegative()).default({ USDT: 100_000 }),
        /** used when the exchange's markets give no fee rate (recorded data has none): Binance's standard spot rate */
        fees: z.object({ maker: rate.default(0.001), taker: rate.default(0.001) }).strict().default({ maker: 0.001, taker: 0.001 }),
        /**
         * Market orders without a book fill at the last close plus this slippage model:
         * baseBps + impactBps × sqrt(notional / that candle's quote volume) × 100. The square-root
         * impact law is usually stated against daily volume; one candle's volume is far smaller, so
         * the default impact coefficient is small (0.01 BTC on a 66 BTC 5m candle ≈ 3 bps in all).
         */
        slippage: z
          .object({ baseBps: z.number().min(0).max(500).default(2), impactBps: z.number().min(0).max(10_000).default(1) })
          .strict()
          .default({ baseBps: 2, impactBps: 1 }),
        /** candle timeframes tried, finest first, when there is no order book */
        timeframes: z.array(z.string().min(2)).min(1).default(['1m', '5m', '15m', '1h']),
      })
      .strict()
      .default({ balances: { USDT: 100_000 }, fees: { maker: 0.001, taker: 0.001 }, slippage: { baseBps: 2, impactBps: 1 }, timeframes: ['1m', '5m', '15m', '1h'] }),
    live: z
      .object({
        exchange: exchangeId.default('binance'),
        /** the exchange's sandbox/testnet where ccxt has one */
        sandbox: z.boolean().default(true),
      })
      .strict()
      .default({ exchange: 'binance', sandbox: true }),
  })
  .strict();

export type TradingConfig = z.output<typeof tradingConfigSchema>;

const url = z.string().url();

/**
 * Chat platforms. Each adapter runs when its token is in the environment (TELEGRAM_BOT_TOKEN,
 * SLACK_BOT_TOKEN + SLACK_APP_TOKEN or SLACK_SIGNING_SECRET, DISCORD_BOT_TOKEN) unless
 * `enabled: false`; all of them and the terminal can run in one process.
 */
export const adaptersConfigSchema = z
  .object({
    telegram: z
      .object({
        enabled: z.boolean().default(true),
        /** Bot API base (tests point telegraf at the fake); null: https://api.telegram.org */
        apiRoot: url.nullable().default(null),
        /** long polling by default; webhook needs a public HTTPS URL */
        mode: z.enum(['polling', 'webhook']).default('polling'),
        webhook: z
          .object({ domain: url.nullable().default(null), path: z.string().startsWith('/').default('/telegram'), port: z.number().int().min(1).max(65535).default(8443) })
          .strict()
          .default({ domain: null, path: '/telegram', port: 8443 }),
      })
      .strict()
      .default({ enabled: true, apiRoot: null, mode: 'polling', webhook: { domain: null, path: '/telegram', port: 8443 } }),
    slack: z
      .object({
        enabled: z.boolean().default(true),
        /** socket: Socket Mode (SLACK_APP_TOKEN); http: Bolt's HTTP receiver verifying SLACK_SIGNING_SECRET */
        mode: z.enum(['socket', 'http']).default('socket'),
        /** HTTP receiver port (mode http) */
        port: z.number().int().min(0).max(65535).default(3000),
        /** Web API base, e.g. https://slack.com/api/ (tests point Bolt's client at the fake) */
        apiUrl: url.nullable().default(null),
        /**
         * how long a slash command waits for its reply to travel in the acknowledgement itself
         * (Slack wants the ack within 3 s, network included); a slower or richer reply (images,
         * buttons, several messages) is acknowledged empty and posted. 0: always post.
         */
        answerInAckMs: z.number().int().min(0).max(2500).default(2000),
      })
      .strict()
      .default({ enabled: true, mode: 'socket', port: 3000, apiUrl: null, answerInAckMs: 2000 }),
    discord: z
      .object({
        enabled: z.boolean().default(true),
        /** REST base, e.g. https://discord.com/api (tests point discord.js at the fake) */
        apiBase: url.nullable().default(null),
        /** gateway WebSocket URL override (tests) */
        gatewayUrl: z.string().regex(/^wss?:\/\//).nullable().default(null),
        /** register application commands in this guild (instant) instead of globally */
        guildId: z.string().regex(/^\d+$/).nullable().default(null),
      })
      .strict()
      .default({ enabled: true, apiBase: null, gatewayUrl: null, guildId: null }),
  })
  .strict();

export type AdaptersConfig = z.output<typeof adaptersConfigSchema>;

export const configSchema = z
  .object({
    instance: z.string().min(1).default('deskbot'),
    /** where runtime state lives; DESKBOT_DATA_DIR overrides; relative paths are from the working directory */
    dataDir: z.string().min(1).default('data'),
    timezone: z.string().min(1).default('UTC'),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** "stderr" or a file path (relative to dataDir) */
        destination: z.string().min(1).default('stderr'),
        pretty: z.enum(['auto', 'always', 'never']).default('auto'),
      })
      .strict()
      .default({ level: 'info', destination: 'stderr', pretty: 'auto' }),
    store: z
      .object({
        /**
         * auto: redis when a Redis URL is set (REDIS_URL or redis.url), else sqlite.
         * sqlite: embedded file in dataDir; redis: shared across instances; memory: tests.
         */
        kind: z.enum(['auto', 'sqlite', 'redis', 'memory']).default('auto'),
        sqliteFile: z.string().min(1).default('deskbot.sqlite'),
      })
      .strict()
      .default({ kind: 'auto', sqliteFile: 'deskbot.sqlite' }),
    redis: z
      .object({
        /** redis://host:port/db without a password; a password goes in REDIS_URL */
        url: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').nullable().default(null),
        keyPrefix: z.string().default('deskbot'),
      })
      .strict()
      .default({ url: null, keyPrefix: 'deskbot' }),
    audit: z
      .object({
        file: z.string().min(1).default('audit.jsonl'),
      })
      .strict()
      .default({ file: 'audit.jsonl' }),
    dedupe: z
      .object({
        windowHours: z.number().positive().max(24 * 7).default(24),
      })
      .strict()
      .default({ windowHours: 24 }),
    confirm: z
      .object({
        /** a dangerous command must be confirmed by the same person within this many seconds */
        timeoutSeconds: z.number().int().positive().max(3600).default(60),
        /** a four-eyes command must be approved by another person within this many seconds */
        approvalTimeoutSeconds: z.number().int().positive().max(86400).default(600),
      })
      .strict()
      .default({ timeoutSeconds: 60, approvalTimeoutSeconds: 600 }),
    console: z
      .object({
        enabled: z.boolean().default(true),
        /** the person the terminal speaks as; DESKBOT_AS overrides */
        as: personId.default('operator'),
      })
      .strict()
      .default({ enabled: true, as: 'operator' }),
    people: z.record(personId, personSchema).default({}),
    /** role → permissions; "*" grants everything, "trade:*" everything under trade */
    roles: z.record(z.string().min(1), z.array(permission)).default({}),
    channelRules: z.array(channelRuleSchema).default([]),
    plugins: z
      .object({
        /** folders searched for plugins (each subfolder with an index.ts/index.js is one plugin) */
        dirs: z.array(z.string().min(1)).default(['plugins']),
        /** npm packages loaded as plugins, by name */
        packages: z.array(z.string().min(1)).default([]),
        /** plugin names not to load */
        disable: z.array(z.string().min(1)).default([]),
        /** per-plugin config sections, validated by each plugin's own schema */
        settings: z.record(z.string(), z.unknown()).default({}),
      })
      .strict()
      .default({ dirs: ['plugins'], packages: [], disable: [], settings: {} }),
    schedules: z.array(scheduleConfigSchema).default([]),
    market: marketConfigSchema.default(marketConfigSchema.parse({})),
    trading: tradingConfigSchema.default(tradingConfigSchema.parse({})),
    adapters: adaptersConfigSchema.default(adaptersConfigSchema.parse({})),
    /** alert routing: rules per channel, dedupe, throttle, quiet hours */
    alerts: alertsConfigSchema.default(alertsConfigSchema.parse({})),
    /**
     * the ops HTTP server: /metrics (Prometheus), /healthz, /readyz (src/ops). Off unless a config
     * turns it on (config/default.yaml does): embedded and test kernels must not all grab one port.
     */
    ops: z
      .object({
        enabled: z.boolean().default(false),
        /** 127.0.0.1: this host only; 0.0.0.0 in a container that Prometheus scrapes from outside */
        host: z.string().min(1).default('127.0.0.1'),
        /** 0: any free port (tests); the bound one is kernel.ops.port */
        port: z.number().int().min(0).max(65535).default(9464),
      })
      .strict()
      .default({ enabled: false, host: '127.0.0.1', port: 9464 }),
    /** the governed LLM for summaries (OPENAI_API_KEY from the environment; without it, templates) */
    llm: llmConfigSchema.default(llmConfigSchema.parse({})),
  })
  .strict();

export type DeskbotConfig = z.output<typeof configSchema>;
export type PersonConfig = z.output<typeof personSchema>;
export type ChannelRule = z.output<typeof channelRuleSchema>;
export type ScheduleConfig = z.output<typeof scheduleConfigSchema>;

/** The store a config runs on: `auto` means Redis when a Redis URL is set, else SQLite. */
export function effectiveStoreKind(config: Pick<DeskbotConfig, 'store' | 'redis'>): 'sqlite' | 'redis' | 'memory' {
  if (config.store.kind !== 'auto') return config.store.kind;
  return config.redis.url !== null ? 'redis' : 'sqlite';
}
