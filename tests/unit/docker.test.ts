import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FIXED_SECRET_ENVS } from '../../src/kernel/config/secrets.js';

// No Docker engine in CI: these tests read the files the way the engine would and check the
// properties that matter for running the bot safely.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string): string => readFileSync(join(root, rel), 'utf8');

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile → instructions: `\` continuations joined, comment lines dropped, op upper-cased. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line.startsWith('#')) continue; // comments, also inside a continued instruction
    if (line === '' && pending === '') continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full === '') continue;
    const m = /^(\S+)\s*(.*)$/.exec(full);
    if (m?.[1]) out.push({ op: m[1].toUpperCase(), args: m[2] ?? '' });
  }
  return out;
}

/** Splits instructions into stages at each FROM. */
function stages(instructions: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') out.push([ins]);
    else out[out.length - 1]?.push(ins);
  }
  return out;
}

/** `["node", "a.js"]` or `node a.js` → words. */
function words(args: string): string[] {
  const t = args.trim();
  if (t.startsWith('[')) return JSON.parse(t) as string[];
  return t.split(/\s+/);
}

/** ENV a=1 b=2 (also the legacy `ENV a 1`) → map. */
function envOf(stage: Instruction[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of stage.filter((i) => i.op === 'ENV')) {
    if (!ins.args.includes('=')) {
      const [k, ...v] = ins.args.split(/\s+/);
      if (k) env.set(k, v.join(' '));
      continue;
    }
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) {
      if (m[1] && m[2]) env.set(m[1], m[2].replace(/^"|"$/g, ''));
    }
  }
  return env;
}

// Shapes of real credentials; none may appear in a committed file.
const SECRET_VALUE_SHAPES: readonly RegExp[] = [
  /sk-[A-Za-z0-9_-]{8,}/, // OpenAI
  /xox[abpr]-[A-Za-z0-9-]+/, // Slack bot/user tokens
  /xapp-[A-Za-z0-9-]+/, // Slack app token
  /\b\d{6,}:[A-Za-z0-9_-]{20,}/, // Telegram bot token
  /rediss?:\/\/[^\s/@]*:[^\s/@]+@/, // password inside a redis URL
];

const dockerfileText = read('docker/Dockerfile');
const dockerfile = parseDockerfile(dockerfileText);
const dockerStages = stages(dockerfile);
const finalStage = dockerStages[dockerStages.length - 1] ?? [];
const buildStage = dockerStages[0] ?? [];
const composeText = read('docker/compose.yaml');

describe('the Dockerfile line parser', () => {
  it('joins continuations and skips comments', () => {
    const parsed = parseDockerfile('FROM a AS b\n# note\nRUN one \\\n  # inside\n  && two\nCMD ["x"]\n');
    expect(parsed).toEqual([
      { op: 'FROM', args: 'a AS b' },
      { op: 'RUN', args: 'one && two' },
      { op: 'CMD', args: '["x"]' },
    ]);
  });
});

describe('docker/Dockerfile', () => {
  it('is multi-stage on node:20-bookworm-slim', () => {
    expect(dockerStages.length).toBeGreaterThanOrEqual(2);
    for (const stage of dockerStages) expect(stage[0]?.args).toMatch(/^node:20-bookworm-slim\b/);
    expect(buildStage[0]?.args).toMatch(/\bAS build$/i);
  });

  it('builds with the native toolchain, npm ci and tsc -p tsconfig.build.json', () => {
    const runs = buildStage.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /apt-get install\b.*\bpython3\b/.test(r) && /\bmake\b/.test(r) && /\bg\+\+/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm ci\b(?!.*--omit)/.test(r))).toBe(true);
    expect(runs.some((r) => r.includes('npx tsc -p tsconfig.build.json'))).toBe(true);
  });

  it('final stage installs production dependencies only and copies dist, config and prompts', () => {
    const runs = finalStage.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => r.includes('npm ci --omit=dev'))).toBe(true);
    const copies = finalStage.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies).toContain('--from=build /app/dist ./dist');
    expect(copies.some((c) => /^config\s/.test(c))).toBe(true);
    expect(copies.some((c) => /^prompts\s/.test(c))).toBe(true);
  });

  it('final stage runs as a non-root user, in /app, with data in a volume', () => {
    const users = finalStage.filter((i) => i.op === 'USER').map((i) => i.args.split(':')[0]);
    const lastUser = users[users.length - 1];
    expect(lastUser).toBeDefined();
    expect(['root', '0']).not.toContain(lastUser);
    // USER must come before the process starts, i.e. before ENTRYPOINT/CMD take effect
    const userAt = finalStage.findLastIndex((i) => i.op === 'USER');
    const entryAt = finalStage.findIndex((i) => i.op === 'ENTRYPOINT' || i.op === 'CMD');
    expect(userAt).toBeLessThan(entryAt);

    expect(finalStage.filter((i) => i.op === 'WORKDIR').at(-1)?.args).toBe('/app');
    const env = envOf(finalStage);
    expect(env.get('NODE_ENV')).toBe('production');
    expect(env.get('DESKBOT_DATA_DIR')).toBe('/app/data');
    expect(finalStage.some((i) => i.op === 'VOLUME' && words(i.args).includes('/app/data'))).toBe(true);
  });

  it('has a HEALTHCHECK and starts `node dist/src/cli.js start`', () => {
    const health = finalStage.find((i) => i.op === 'HEALTHCHECK');
    expect(health?.args).toMatch(/\bCMD\b/);
    // liveness from the kernel's heartbeat, not just a config check
    expect(words(health?.args.replace(/^.*?CMD\s*/s, '') ?? '[]')).toEqual(['node', 'dist/src/cli.js', 'health']);
    const entrypoint = words(finalStage.filter((i) => i.op === 'ENTRYPOINT').at(-1)?.args ?? '[]');
    const cmd = words(finalStage.filter((i) => i.op === 'CMD').at(-1)?.args ?? '[]');
    expect([...entrypoint, ...cmd]).toEqual(['node', 'dist/src/cli.js', 'start']);
  });

  it('bakes in no secrets: no secret ENV/ARG, no credential-shaped values', () => {
    const declared = dockerfile.filter((i) => i.op === 'ENV' || i.op === 'ARG').map((i) => i.args);
    for (const name of FIXED_SECRET_ENVS) {
      for (const d of declared) expect(d).not.toMatch(new RegExp(`\\b${name}\\b`));
    }
    for (const d of declared) expect(d).not.toMatch(/\bEXCHANGE_[A-Z0-9]+_(API_KEY|SECRET|PASSWORD)\b/);
    for (const shape of SECRET_VALUE_SHAPES) expect(dockerfileText).not.toMatch(shape);
  });
});

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string };
  environment?: string[] | Record<string, string | null>;
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] | string };
  restart?: string;
  command?: string[] | string;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const compose = parse(composeText) as ComposeFile;

/** compose `environment` (list or map) → name → value (undefined when only the name is given). */
function environment(service: ComposeService): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  const e = service.environment;
  if (Array.isArray(e)) {
    for (const item of e) {
      const i = item.indexOf('=');
      if (i < 0) env.set(item, undefined);
      else env.set(item.slice(0, i), item.slice(i + 1));
    }
  } else if (e) {
    for (const [k, v] of Object.entries(e)) env.set(k, v ?? undefined);
  }
  return env;
}

describe('docker/compose.yaml', () => {
  const bot = compose.services.deskbot;
  const redis = compose.services.redis;

  it('builds deskbot from the repo root with docker/Dockerfile', () => {
    expect(bot?.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
    expect(bot?.restart).toMatch(/^(always|unless-stopped|on-failure)/);
  });

  it('passes secrets by name only, and points REDIS_URL at the redis service', () => {
    const env = environment(bot ?? {});
    for (const name of FIXED_SECRET_ENVS.filter((n) => n !== 'REDIS_URL')) {
      expect(env.has(name), name).toBe(true);
      expect(env.get(name), name).toBeUndefined();
    }
    expect(env.get('REDIS_URL')).toBe('redis://redis:6379');
    for (const [name, value] of env) {
      if (/^EXCHANGE_/.test(name)) expect(value, name).toBeUndefined();
    }
    for (const shape of SECRET_VALUE_SHAPES) expect(composeText).not.toMatch(shape);
  });

  it('keeps /app/data in a declared volume and waits for a healthy redis', () => {
    const dataVolume = bot?.volumes?.find((v) => v.split(':')[1] === '/app/data');
    expect(dataVolume).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(dataVolume?.split(':')[0]);
    expect(bot?.depends_on?.redis?.condition).toBe('service_healthy');
    expect(bot?.healthcheck?.test).toEqual(['CMD', 'node', 'dist/src/cli.js', 'health']);
  });

  it('runs redis 7 with append-only persistence, a volume and a ping healthcheck', () => {
    expect(redis?.image).toBe('redis:7-alpine');
    const command = Array.isArray(redis?.command) ? redis.command.join(' ') : (redis?.command ?? '');
    expect(command).toMatch(/--appendonly yes/);
    const dataVolume = redis?.volumes?.find((v) => v.split(':')[1] === '/data');
    expect(Object.keys(compose.volumes ?? {})).toContain(dataVolume?.split(':')[0]);
    const test = redis?.healthcheck?.test;
    expect(Array.isArray(test) ? test.join(' ') : test).toMatch(/redis-cli ping/);
  });
});

describe('docker/compose.replicas.yaml (two replicas on one Redis)', () => {
  const text = read('docker/compose.replicas.yaml');
  const replicas = parse(text) as { services: Record<string, ComposeService & { extends?: { file: string; service: string } }>; volumes?: Record<string, unknown> };
  const b = replicas.services['deskbot-b'];

  it('adds a second deskbot built like the first, with its own name and its own data volume (its own audit log)', () => {
    expect(b?.extends).toEqual({ file: 'compose.yaml', service: 'deskbot' });
    const env = environment(b ?? {});
    expect(env.get('DESKBOT_INSTANCE')).toBe('deskbot-b');
    const dataVolume = b?.volumes?.find((v) => v.split(':')[1] === '/app/data');
    expect(dataVolume?.split(':')[0]).toBe('deskbot-b-data');
    expect(Object.keys(replicas.volumes ?? {})).toContain('deskbot-b-data');
    expect(dataVolume?.split(':')[0]).not.toBe(compose.services.deskbot?.volumes?.[0]?.split(':')[0]);
    expect(b?.depends_on?.redis?.condition).toBe('service_healthy');
  });

  it('leaves Telegram long polling to one replica (a bot token allows one consumer) and bakes in no secrets', () => {
    expect(environment(b ?? {}).get('TELEGRAM_BOT_TOKEN')).toBe('');
    for (const shape of SECRET_VALUE_SHAPES) expect(text).not.toMatch(shape);
  });
});

describe('.dockerignore and tsconfig.build.json', () => {
  it('keeps secrets, state and local builds out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', 'data', '.env', '.git']) expect(ignored).toContain(entry);
  });

  it('emits src and plugins to dist/ from the strict base config', () => {
    const build = JSON.parse(read('tsconfig.build.json')) as {
      extends: string;
      compilerOptions: Record<string, unknown>;
      include: string[];
      exclude: string[];
    };
    expect(build.extends).toBe('./tsconfig.json');
    expect(build.compilerOptions).toMatchObject({ noEmit: false, outDir: 'dist', rootDir: '.' });
    expect(build.include).toEqual(['src', 'plugins']);
    expect(build.exclude).toContain('tests');
  });
});
