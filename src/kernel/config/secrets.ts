/**
 * Secrets come only from environment variables, never from YAML: config files get copied,
 * committed and pasted into chats; the environment is where deploy tooling injects secrets.
 * This module is the one list of what counts as a secret, so log scrubbing, `check-config`
 * and the docs all agree.
 */

export interface SecretEnvDoc {
  /** short name used in docs and accepted by `Secrets.get` as an alias of the env var */
  name: string;
  /** the environment variable; `<ID>` marks a pattern (any exchange id, upper-case) */
  env: string;
  purpose: string;
}

/** Fixed secret env vars (exchange credentials are a pattern, listed separately below). */
const FIXED: readonly SecretEnvDoc[] = [
  { name: 'telegram.botToken', env: 'TELEGRAM_BOT_TOKEN', purpose: 'Telegram bot token from @BotFather (Telegram adapter)' },
  { name: 'slack.botToken', env: 'SLACK_BOT_TOKEN', purpose: 'Slack bot user OAuth token, xoxb-… (Slack adapter)' },
  { name: 'slack.appToken', env: 'SLACK_APP_TOKEN', purpose: 'Slack app-level token, xapp-…, for Socket Mode (Slack adapter)' },
  { name: 'slack.signingSecret', env: 'SLACK_SIGNING_SECRET', purpose: 'Slack signing secret, verifies HTTP requests (Slack adapter)' },
  { name: 'discord.botToken', env: 'DISCORD_BOT_TOKEN', purpose: 'Discord bot token (Discord adapter)' },
  { name: 'openai.apiKey', env: 'OPENAI_API_KEY', purpose: 'API key for the OpenAI-compatible LLM endpoint; without it summaries use templates' },
  { name: 'redis.url', env: 'REDIS_URL', purpose: 'Redis URL for the shared store, schedules and dedupe; may contain a password (redis://:pw@host:6379)' },
];

const EXCHANGE_FIELDS = [
  { suffix: 'API_KEY', field: 'apiKey', purpose: 'exchange API key (live trading / private endpoints)' },
  { suffix: 'SECRET', field: 'secret', purpose: 'exchange API secret' },
  { suffix: 'PASSWORD', field: 'password', purpose: 'exchange API passphrase, for exchanges that need one (e.g. OKX)' },
] as const;

export type ExchangeSecretField = (typeof EXCHANGE_FIELDS)[number]['field'];

/** The table docs/configuration.md renders: fixed names plus the exchange pattern. */
export const SECRET_ENV_DOCS: readonly SecretEnvDoc[] = [
  ...FIXED,
  ...EXCHANGE_FIELDS.map((f) => ({ name: `exchange.<id>.${f.field}`, env: `EXCHANGE_<ID>_${f.suffix}`, purpose: f.purpose })),
];

/** Fixed secret env var names, in doc order. */
export const FIXED_SECRET_ENVS: readonly string[] = FIXED.map((d) => d.env);

// ccxt exchange ids are lower-case alphanumerics ("binance", "binanceusdm"), so no underscores.
const EXCHANGE_ENV = /^EXCHANGE_([A-Z0-9]+)_(API_KEY|SECRET|PASSWORD)$/;

/** The env var holding one credential of an exchange, e.g. ("binance", "apiKey") → EXCHANGE_BINANCE_API_KEY. */
export function exchangeSecretEnv(exchangeId: string, field: ExchangeSecretField): string {
  const f = EXCHANGE_FIELDS.find((x) => x.field === field);
  // `field` is typed, so `f` always exists; the fallback only satisfies the type checker.
  return `EXCHANGE_${exchangeId.toUpperCase()}_${f?.suffix ?? 'API_KEY'}`;
}

export function isSecretEnvName(env: string): boolean {
  return FIXED_SECRET_ENVS.includes(env) || EXCHANGE_ENV.test(env);
}

export interface Secrets {
  /** a secret by env var name ("TELEGRAM_BOT_TOKEN") or doc name ("telegram.botToken"); unset or empty → undefined */
  get(name: string): string | undefined;
  /** every secret value present, for log scrubbing (includes the password inside REDIS_URL on its own) */
  values(): string[];
  /** env var names of the secrets that are set */
  names(): string[];
}

/** The password part of a redis URL, decoded, or undefined when there is none or the URL does not parse. */
export function redisUrlPassword(url: string): string | undefined {
  try {
    const pw = new URL(url).password;
    return pw === '' ? undefined : decodeURIComponent(pw);
  } catch {
    return undefined;
  }
}

/** The URL with its password replaced by ****, for display; unparsable input is masked whole. */
export function maskRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '****';
    return u.toString();
  } catch {
    return '****';
  }
}

export function readSecrets(env: NodeJS.ProcessEnv): Secrets {
  // Snapshot once: later changes to process.env must not make values() disagree with what was logged.
  const found = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '' && isSecretEnvName(key)) found.set(key, value);
  }
  const byDocName = new Map(FIXED.map((d) => [d.name, d.env]));

  return {
    get(name) {
      return found.get(byDocName.get(name) ?? name);
    },
    values() {
      const out = new Set<string>();
      for (const [key, value] of found) {
        out.add(value);
        if (key === 'REDIS_URL') {
          const pw = redisUrlPassword(value);
          if (pw !== undefined) out.add(pw);
        }
      }
      return [...out];
    },
    names() {
      return [...found.keys()].sort();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Secret-looking keys in config files. Kept here so the definition of "secret" lives in one file.

// Normalised key (lower-case, no "_" or "-") ending in one of these is treated as a secret.
// "tokens" is deliberately absent: `maxTokens` is an LLM setting, not a credential.
const SECRET_KEY = /(token|secret|secrets|password|passwd|passphrase|apikey|privatekey|credentials)$/;

export function looksLikeSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[-_]/g, ''));
}

/**
 * The env var an operator should use instead of a secret found at `path` in a config file,
 * when it is obvious (adapters.telegram.token → TELEGRAM_BOT_TOKEN); otherwise undefined.
 */
export function suggestSecretEnv(path: readonly (string | number)[]): string | undefined {
  const parts = path.map((p) => String(p).toLowerCase().replace(/[-_]/g, ''));
  const last = parts[parts.length - 1] ?? '';
  const has = (word: string): boolean => parts.some((p) => p.includes(word));

  if (has('telegram') && last.endsWith('token')) return 'TELEGRAM_BOT_TOKEN';
  if (has('discord') && last.endsWith('token')) return 'DISCORD_BOT_TOKEN';
  if (has('slack')) {
    if (last.includes('signing') || last.endsWith('secret')) return 'SLACK_SIGNING_SECRET';
    if (last.includes('app') && last.endsWith('token')) return 'SLACK_APP_TOKEN';
    if (last.endsWith('token')) return 'SLACK_BOT_TOKEN';
  }
  if ((has('openai') || has('llm')) && (last.endsWith('apikey') || last.endsWith('token'))) return 'OPENAI_API_KEY';
  if (has('redis') && (last.endsWith('password') || last.endsWith('passwd'))) return 'REDIS_URL';

  // exchanges.<id>.apiKey / exchange.<id>.secret / ccxt.<id>.password
  const ex = parts.findIndex((p) => p === 'exchange' || p === 'exchanges' || p === 'ccxt');
  const id = ex >= 0 ? path[ex + 1] : undefined;
  if (id !== undefined && ex + 2 === path.length - 1 && /^[a-z0-9]+$/i.test(String(id))) {
    if (last.endsWith('apikey')) return exchangeSecretEnv(String(id), 'apiKey');
    if (last.endsWith('secret')) return exchangeSecretEnv(String(id), 'secret');
    if (last.endsWith('password') || last.endsWith('passphrase')) return exchangeSecretEnv(String(id), 'password');
  }
  return undefined;
}
