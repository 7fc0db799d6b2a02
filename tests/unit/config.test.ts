import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultConfigPath, describeConfig, loadConfig, type ConfigResult } from '../../src/kernel/config/load.js';
import { effectiveStoreKind } from '../../src/kernel/config/schema.js';
import { exchangeSecretEnv, looksLikeSecretKey, readSecrets, SECRET_ENV_DOCS } from '../../src/kernel/config/secrets.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const embeddedDefault = join(repoRoot, 'config', 'default.yaml');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'deskbot-config-'));
  mkdirSync(join(dir, 'config'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes config/x.yaml in a temp cwd and loads it through DESKBOT_CONFIG. */
function loadYaml(yaml: string, env: NodeJS.ProcessEnv = {}): ConfigResult {
  writeFileSync(join(dir, 'config', 'x.yaml'), yaml);
  return loadConfig({ env: { DESKBOT_CONFIG: 'config/x.yaml', ...env }, cwd: dir });
}

function errorOf(result: ConfigResult): string {
  if (result.ok) throw new Error('expected the config to be rejected');
  return result.error;
}

// A small valid file; tests add one mistake to it.
const MINIMAL = `
people:
  alice: { name: Alice, roles: [trader], ids: { console: alice } }
roles:
  trader: [market:read, trade:execute]
console: { as: alice }
`;

describe('loadConfig: the embedded default', () => {
  it('is found from the module location, not the cwd', () => {
    expect(defaultConfigPath()).toBe(embeddedDefault);
  });

  it('loads and validates, from the repo and from any other directory', () => {
    const fromRepo = loadConfig({ env: {}, cwd: repoRoot });
    expect(fromRepo.ok).toBe(true);
    if (!fromRepo.ok) return;
    expect(fromRepo.source).toBe('config/default.yaml');
    expect(fromRepo.config.instance).toBe('deskbot-local');
    expect(fromRepo.config.store.kind).toBe('auto');
    expect(fromRepo.config.console.as).toBe('operator');
    expect(fromRepo.config.roles.admin).toEqual(['*']);

    const elsewhere = loadConfig({ env: {}, cwd: dir });
    expect(elsewhere.ok && elsewhere.source).toBe(embeddedDefault);
  });

  it('accepts a defaultPath override', () => {
    writeFileSync(join(dir, 'config', 'alt.yaml'), `${MINIMAL}instance: alt\n`);
    const r = loadConfig({ env: {}, cwd: dir, defaultPath: join(dir, 'config', 'alt.yaml') });
    expect(r.ok && r.config.instance).toBe('alt');
    expect(r.ok && r.source).toBe('config/alt.yaml');
  });
});

describe('loadConfig: DESKBOT_CONFIG', () => {
  it('loads the named file relative to cwd and fills defaults', () => {
    const r = loadYaml(`${MINIMAL}instance: desk-2\n`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.source).toBe('config/x.yaml');
    expect(r.config.instance).toBe('desk-2');
    expect(r.config.log).toEqual({ level: 'info', destination: 'stderr', pretty: 'auto' });
    expect(r.config.people.alice?.roles).toEqual(['trader']);
  });

  it('reports a missing file as one line', () => {
    const r = loadConfig({ env: { DESKBOT_CONFIG: 'config/missing.yaml' }, cwd: dir });
    expect(errorOf(r)).toBe('config/missing.yaml: file not found (DESKBOT_CONFIG=config/missing.yaml)');
  });
});

describe('loadConfig: one line per problem', () => {
  it('unknown key names the field and the known ones', () => {
    expect(errorOf(loadYaml(`${MINIMAL}log: { lvl: debug }\n`))).toBe(
      'config/x.yaml: log.lvl: unknown field (known: level, destination, pretty)',
    );
  });

  it('wrong type names the field, the expected type and the value', () => {
    expect(errorOf(loadYaml(`${MINIMAL}dedupe: { windowHours: "a lot" }\n`))).toBe(
      'config/x.yaml: dedupe.windowHours: expected a number, got "a lot"',
    );
  });

  it('a bad enum value lists the allowed ones', () => {
    expect(errorOf(loadYaml(`${MINIMAL}store: { kind: postgres }\n`))).toBe(
      'config/x.yaml: store.kind: expected one of "auto", "sqlite", "redis", "memory", got "postgres"',
    );
  });

  it('a bad permission string shows the expected form', () => {
    const yaml = MINIMAL.replace('[market:read, trade:execute]', '[market:read, trade execute]');
    expect(errorOf(loadYaml(yaml))).toBe(
      'config/x.yaml: roles.trader[1]: expected a permission like "market:read", "trade:*" or "*", got "trade execute"',
    );
  });

  it('a role a person names must exist', () => {
    const yaml = MINIMAL.replace('roles: [trader]', 'roles: [trader, tradr]');
    expect(errorOf(loadYaml(yaml))).toBe('config/x.yaml: people.alice.roles[1]: role "tradr" is not defined in roles (defined: trader)');
  });

  it('console.as must be a person, and the error names DESKBOT_AS when that set it', () => {
    expect(errorOf(loadYaml(MINIMAL, { DESKBOT_AS: 'bob' }))).toBe('DESKBOT_AS: console.as: "bob" is not a person in people (known: alice)');
    expect(errorOf(loadYaml(MINIMAL.replace('as: alice', 'as: carol')))).toBe(
      'config/x.yaml: console.as: "carol" is not a person in people (known: alice)',
    );
    // With the terminal off nobody speaks through it, so the check does not apply.
    expect(loadYaml(MINIMAL.replace('{ as: alice }', '{ enabled: false, as: carol }')).ok).toBe(true);
  });

  it('store.kind redis needs a redis url, from config or REDIS_URL', () => {
    expect(errorOf(loadYaml(`${MINIMAL}store: { kind: redis }\n`))).toBe(
      'config/x.yaml: store.kind: "redis" needs a Redis URL: set REDIS_URL in the environment (or redis.url, without a password)',
    );
    expect(loadYaml(`${MINIMAL}store: { kind: redis }\nredis: { url: "redis://cache:6379/2" }\n`).ok).toBe(true);
    const viaEnv = loadYaml(`${MINIMAL}store: { kind: redis }\n`, { REDIS_URL: 'redis://:pw-abcdef@cache:6379' });
    expect(viaEnv.ok && viaEnv.config.redis.url).toBe('redis://:pw-abcdef@cache:6379');
  });

  it('a secret in YAML is refused with the env var to use instead, without echoing it', () => {
    const error = errorOf(loadYaml(`${MINIMAL}adapters:\n  telegram:\n    token: "123456:AAbbCCddEEff"\n`));
    expect(error).toBe(
      'config/x.yaml: adapters.telegram.token: secrets are not allowed in config files; set TELEGRAM_BOT_TOKEN in the environment',
    );
  });

  it('a secret with no obvious env var points to the docs', () => {
    const error = errorOf(loadYaml(`${MINIMAL}plugins:\n  settings:\n    whales: { privateKey: "0xdeadbeefcafe" }\n`));
    expect(error).toBe(
      'config/x.yaml: plugins.settings.whales.privateKey: secrets are not allowed in config files; use the environment variables listed in docs/configuration.md',
    );
  });

  it('exchange credentials map to EXCHANGE_<ID>_*', () => {
    const error = errorOf(loadYaml(`${MINIMAL}plugins:\n  settings:\n    exchanges:\n      okx: { password: "pass-phrase-1" }\n`));
    expect(error).toBe(
      'config/x.yaml: plugins.settings.exchanges.okx.password: secrets are not allowed in config files; set EXCHANGE_OKX_PASSWORD in the environment',
    );
  });

  it('a redis.url with a password is refused, pointing to REDIS_URL', () => {
    const error = errorOf(loadYaml(`${MINIMAL}redis: { url: "redis://:hunter2secret@cache:6379" }\n`));
    expect(error.split('\n')).toHaveLength(1);
    expect(error).toMatch(/^config\/x\.yaml: redis\.url: secrets are not allowed in config files: .*REDIS_URL/);
    expect(error).not.toContain('hunter2secret');
  });

  it('a YAML syntax error gives line and column', () => {
    expect(errorOf(loadYaml('log:\n  level: info\n  level: debug\n'))).toBe(
      'config/x.yaml: line 3, column 3: YAML syntax error: Map keys must be unique',
    );
  });

  it('a file that is not a mapping is refused', () => {
    expect(errorOf(loadYaml('- a\n- b\n'))).toBe('config/x.yaml: expected a mapping of settings at the top level, got a list');
  });

  it('several problems give several lines', () => {
    const yaml = `${MINIMAL}log: { lvl: debug }\ndedupe: { windowHours: -1 }\n`;
    expect(errorOf(loadYaml(yaml)).split('\n')).toEqual([
      'config/x.yaml: log.lvl: unknown field (known: level, destination, pretty)',
      'config/x.yaml: dedupe.windowHours: expected a number > 0, got -1',
    ]);
  });

  it('a bad env override is blamed on the env var, and a secret in it is not echoed', () => {
    expect(errorOf(loadYaml(MINIMAL, { DESKBOT_LOG_LEVEL: 'loud' }))).toBe(
      'DESKBOT_LOG_LEVEL: log.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"',
    );
    const error = errorOf(loadYaml(MINIMAL, { REDIS_URL: 'http://:hunter2secret@cache:6379' }));
    expect(error).toMatch(/^REDIS_URL: redis\.url: expected a redis:\/\/ or rediss:\/\/ URL/);
    expect(error).not.toContain('hunter2secret');
  });
});

describe('loadConfig: env overrides', () => {
  it('DESKBOT_DATA_DIR, REDIS_URL, DESKBOT_LOG_LEVEL and DESKBOT_AS apply; store.kind is left alone', () => {
    const file = `
people:
  alice: { name: Alice, roles: [trader], ids: { console: alice } }
  bob: { name: Bob, roles: [trader], ids: { console: bob } }
roles:
  trader: [market:read]
console: { as: alice }
dataDir: data
log: { level: info }
`;
    const r = loadYaml(file, {
      DESKBOT_DATA_DIR: '/var/lib/deskbot',
      REDIS_URL: 'redis://redis:6379',
      DESKBOT_LOG_LEVEL: 'debug',
      DESKBOT_AS: 'bob',
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.dataDir).toBe('/var/lib/deskbot');
    expect(r.config.redis.url).toBe('redis://redis:6379');
    // auto: a Redis URL in the environment means the Redis store
    expect(r.config.store.kind).toBe('auto');
    expect(effectiveStoreKind(r.config)).toBe('redis');
    expect(r.config.log.level).toBe('debug');
    expect(r.config.console.as).toBe('bob');
  });

  it('an empty env var is treated as unset', () => {
    const r = loadYaml(MINIMAL, { DESKBOT_LOG_LEVEL: '', DESKBOT_AS: '' });
    expect(r.ok && r.config.log.level).toBe('info');
    expect(r.ok && r.config.console.as).toBe('alice');
  });
});

describe('describeConfig', () => {
  it('shows the effective config and which secrets are set, never their values', () => {
    const env = {
      OPENAI_API_KEY: 'sk-test-123456789',
      TELEGRAM_BOT_TOKEN: '7654321:AAH-telegram-token-value',
      REDIS_URL: 'redis://:hunter2secret@redis:6379',
      EXCHANGE_BINANCE_API_KEY: 'binance-key-abcdef',
    };
    const r = loadConfig({ env, cwd: repoRoot });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const text = describeConfig(r.config, r.secrets);

    for (const value of [...Object.values(env), 'hunter2secret']) expect(text).not.toContain(value);
    const shown = parse(text) as { instance: string; redis: { url: string }; secrets: Record<string, string> };
    expect(shown.instance).toBe('deskbot-local');
    expect(shown.redis.url).toBe('redis://:****@redis:6379');
    expect(shown.secrets.OPENAI_API_KEY).toBe('set (****)');
    expect(shown.secrets.TELEGRAM_BOT_TOKEN).toBe('set (****)');
    expect(shown.secrets.REDIS_URL).toBe('set (****)');
    expect(shown.secrets.EXCHANGE_BINANCE_API_KEY).toBe('set (****)');
    expect(shown.secrets.SLACK_BOT_TOKEN).toBe('not set');
    expect(shown.secrets.DISCORD_BOT_TOKEN).toBe('not set');
  });
});

describe('secrets', () => {
  it('reads known names and the exchange pattern from the environment only', () => {
    const s = readSecrets({
      TELEGRAM_BOT_TOKEN: 'tg-token-value',
      SLACK_BOT_TOKEN: '',
      EXCHANGE_KRAKEN_SECRET: 'kraken-secret-value',
      EXCHANGE_KRAKEN_NOTES: 'not a secret',
      HOME: '/root',
      REDIS_URL: 'redis://:p%40ssword1@redis:6379',
    });
    expect(s.get('TELEGRAM_BOT_TOKEN')).toBe('tg-token-value');
    expect(s.get('telegram.botToken')).toBe('tg-token-value');
    expect(s.get('SLACK_BOT_TOKEN')).toBeUndefined();
    expect(s.get(exchangeSecretEnv('kraken', 'secret'))).toBe('kraken-secret-value');
    expect(s.names()).toEqual(['EXCHANGE_KRAKEN_SECRET', 'REDIS_URL', 'TELEGRAM_BOT_TOKEN']);
    expect(s.values()).toEqual(expect.arrayContaining(['tg-token-value', 'kraken-secret-value', 'redis://:p%40ssword1@redis:6379', 'p@ssword1']));
    expect(s.values()).not.toContain('/root');
    expect(s.values()).not.toContain('not a secret');
  });

  it('documents every secret env var, including the exchange pattern', () => {
    const envs = SECRET_ENV_DOCS.map((d) => d.env);
    for (const name of ['TELEGRAM_BOT_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET', 'DISCORD_BOT_TOKEN', 'OPENAI_API_KEY', 'REDIS_URL']) {
      expect(envs).toContain(name);
    }
    expect(envs).toEqual(expect.arrayContaining(['EXCHANGE_<ID>_API_KEY', 'EXCHANGE_<ID>_SECRET', 'EXCHANGE_<ID>_PASSWORD']));
    expect(SECRET_ENV_DOCS.every((d) => d.purpose.length > 0)).toBe(true);
  });

  it('recognises secret-looking keys but not token counts', () => {
    for (const key of ['token', 'botToken', 'api_key', 'apiKey', 'signingSecret', 'password', 'privateKey', 'private-key']) {
      expect(looksLikeSecretKey(key), key).toBe(true);
    }
    for (const key of ['maxTokens', 'tokenLimit', 'level', 'keyPrefix', 'url']) expect(looksLikeSecretKey(key), key).toBe(false);
  });
});

describe('store kind auto', () => {
  it('runs on Redis when a Redis URL is set, else on SQLite', () => {
    const plain = loadConfig({ env: {}, cwd: process.cwd() });
    const redis = loadConfig({ env: { REDIS_URL: 'redis://127.0.0.1:6390' }, cwd: process.cwd() });
    expect(plain.ok && plain.config.store.kind).toBe('auto');
    expect(plain.ok && effectiveStoreKind(plain.config)).toBe('sqlite');
    expect(redis.ok && effectiveStoreKind(redis.config)).toBe('redis');
  });
});
