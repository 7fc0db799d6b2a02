import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/kernel/config/load.js';
import { configSchema } from '../../src/kernel/config/schema.js';
import { SECRET_ENV_DOCS } from '../../src/kernel/config/secrets.js';

/**
 * Every config file shipped in config/ must load through the real loader (the same path as
 * `deskbot check-config`), and docs/configuration.md must keep up with the schema and the
 * secrets list it copies by hand.
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const configDir = join(repoRoot, 'config');
const examples = readdirSync(configDir)
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .sort();

/** A Redis URL for configs that use the redis store; loadConfig only validates it, never connects. */
const REDIS_URL = 'redis://127.0.0.1:6379/0';

function usesRedis(file: string): boolean {
  const doc = parse(readFileSync(join(configDir, file), 'utf8')) as { store?: { kind?: string } } | null;
  return doc?.store?.kind === 'redis';
}

function load(file: string, env: NodeJS.ProcessEnv = {}): ReturnType<typeof loadConfig> {
  return loadConfig({ env: { DESKBOT_CONFIG: join('config', file), ...env }, cwd: repoRoot });
}

describe('config/*.yaml examples', () => {
  it('include the embedded default and the production example', () => {
    expect(examples).toContain('default.yaml');
    expect(examples).toContain('production.example.yaml');
  });

  it.each(examples)('%s loads and validates', (file) => {
    const r = load(file, usesRedis(file) ? { REDIS_URL } : {});
    if (!r.ok) throw new Error(`config/${file} is rejected:\n${r.error}`);
    expect(r.source).toBe(`config/${file}`);
  });

  describe('production.example.yaml', () => {
    const file = 'production.example.yaml';

    it('is a chat-only Redis deployment with people on several platforms and channel rules', () => {
      const r = load(file, { REDIS_URL });
      if (!r.ok) throw new Error(r.error);
      const c = r.config;
      expect(c.store.kind).toBe('redis');
      expect(c.redis.url).toBe(REDIS_URL); // from the environment, not the file
      expect(c.console.enabled).toBe(false);
      const platforms = new Set(Object.values(c.people).flatMap((p) => Object.keys(p.ids)));
      for (const p of ['telegram', 'slack', 'discord']) expect(platforms).toContain(p);
      expect(Object.keys(c.people).length).toBeGreaterThanOrEqual(3);
      const tradeRule = c.channelRules.find((rule) => rule.permissions.includes('trade:execute'));
      expect(tradeRule?.effect).toBe('only');
    });

    it('without REDIS_URL is refused with one line naming store.kind and REDIS_URL', () => {
      const r = load(file);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.split('\n')).toHaveLength(1);
      expect(r.error).toContain('store.kind');
      expect(r.error).toContain('REDIS_URL');
    });

    it('holds no secrets: every id is a plain string and the file has no secret-looking keys', () => {
      // the settings only: comments may show how to set REDIS_URL in the shell
      const text = readFileSync(join(configDir, file), 'utf8')
        .split('\n')
        .map((l) => l.replace(/(^|\s)#.*$/, ''))
        .join('\n');
      expect(text).not.toMatch(/^\s*[A-Za-z_]*(token|secret|password|apiKey)\s*:/im);
      expect(text).not.toMatch(/rediss?:\/\/[^\s]*:[^\s@]+@/);
      const doc = parse(text) as { redis: { url: unknown }; people: Record<string, { ids: Record<string, unknown> }> };
      expect(doc.redis.url).toBeNull();
      for (const [person, p] of Object.entries(doc.people)) {
        for (const ids of Object.values(p.ids)) {
          for (const id of [ids].flat()) expect(typeof id, `people.${person}.ids: ${String(id)}`).toBe('string');
        }
      }
    });
  });
});

describe('docs/configuration.md', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8');

  it('lists every secret env var with its purpose, as in SECRET_ENV_DOCS', () => {
    for (const s of SECRET_ENV_DOCS) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${s.name}\` | \`${s.env}\` |`));
      expect(row, `no secrets table row for ${s.name} / ${s.env}`).toBeDefined();
      expect(row).toBe(`| \`${s.name}\` | \`${s.env}\` | ${s.purpose} |`);
    }
  });

  it('documents every top-level section of the schema and the env overrides', () => {
    for (const key of Object.keys(configSchema.shape)) expect(doc, key).toContain(`\`${key}\``);
    for (const env of ['DESKBOT_CONFIG', 'DESKBOT_DATA_DIR', 'DESKBOT_AS', 'DESKBOT_LOG_LEVEL', 'REDIS_URL']) {
      expect(doc, env).toContain(`\`${env}\``);
    }
  });
});
