import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  logLines,
  readAuditLines,
  REPO_ROOT,
  runCli,
  runNpmStart,
  SIGTERM_HANDLED_MARKER,
  signalHandlerMarker,
  spawnCli,
  tempDir,
  type CliResult,
} from '../helpers/cli.js';
import { requireRedisUrl } from '../setup/redis-url.js';

/**
 * The `deskbot` command end to end, as a real child process: `node --import tsx src/cli.ts …`
 * (or `npm start --silent`), each run on a fresh DESKBOT_DATA_DIR under the OS temp dir.
 * No test depends on how fast the machine is: every wait is for an event, with a generous cap.
 */

const TEST_TIMEOUT = 180_000;

const made: string[] = [];
function freshDir(prefix?: string): string {
  const d = tempDir(prefix);
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** The env of a quiet desk on its own data dir. */
function deskEnv(dataDir: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { DESKBOT_DATA_DIR: dataDir, DESKBOT_LOG_LEVEL: 'warn', ...extra };
}

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

function expectExit(r: CliResult, code: number): void {
  expect(r.code, show(r)).toBe(code);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function rawAuditLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
}

/** The plain (non-log) lines on stderr, e.g. "deskbot: config error" and the problem lines. */
function plainLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));
}

const DEFAULT_YAML = readFileSync(path.join(REPO_ROOT, 'config', 'default.yaml'), 'utf8');

describe('deskbot start: the terminal desk', { timeout: TEST_TIMEOUT }, () => {
  it('npm start --silent answers a script of commands, in input order, and exits 0', async () => {
    const dataDir = freshDir();
    const r = await runNpmStart({ input: '/help\n/whoami\n/status\n/nonsense\n', env: deskEnv(dataDir) });
    expectExit(r, 0);
    const out = r.stdout;

    // /help: the command table
    expect(out).toContain('Commands');
    expect(out).toMatch(/^\s*\/status\b/m);
    expect(out).toMatch(/^\s*\/whoami\b/m);
    // /whoami: the operator, an admin
    expect(out).toMatch(/person\s+operator\b/);
    expect(out).toMatch(/roles\s+admin\b/);
    // /status: the status plugin, trading running, the sqlite store in our data dir
    expect(out).toMatch(/^\s*status\s+\d+\.\d+\.\d+/m);
    expect(out).toMatch(/trading\s+running/);
    expect(out).toMatch(/store\s+sqlite\b/);
    expect(out).toContain(path.join(dataDir, 'deskbot.sqlite'));
    // /nonsense: one line naming the command and pointing at /help
    const unknown = out.split('\n').filter((l) => l.includes('Unknown command /nonsense'));
    expect(unknown, out).toHaveLength(1);
    expect(unknown[0]).toContain('/help');

    // replies come out in the order of the commands
    const at = [out.indexOf('Commands'), out.search(/person\s+operator/), out.search(/trading\s+running/), out.indexOf('Unknown command /nonsense')];
    expect(at.every((i) => i >= 0), out).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);

    // state went to the temp data dir, and the audit log recorded the four commands in order
    const audit = readAuditLines(path.join(dataDir, 'audit.jsonl'));
    const commands = audit.filter((l) => l.kind === 'decision' || l.kind === 'command').map((l) => l.command);
    expect(commands).toEqual(['help', 'whoami', 'status', 'nonsense']);
  });

  it('DESKBOT_AS=viewer: /audit is refused, /whoami shows the viewer', async () => {
    const dataDir = freshDir();
    const r = await runCli(['start'], { input: '/audit\n/whoami\n', env: deskEnv(dataDir, { DESKBOT_AS: 'viewer' }) });
    expectExit(r, 0);
    expect(r.stdout).toContain('Not allowed');
    expect(r.stdout).toMatch(/Not allowed.*\/audit/);
    expect(r.stdout).toMatch(/person\s+viewer\b/);
    expect(r.stdout).toMatch(/roles\s+viewer\b/);
    expect(r.stdout).not.toMatch(/Audit: last/);
    // the refusal is itself audited
    const refused = readAuditLines(path.join(dataDir, 'audit.jsonl')).find((l) => l.kind === 'decision' && l.command === 'audit');
    expect(refused).toMatchObject({ allowed: false, actor: 'viewer' });
  });

  it('a person not in the config (DESKBOT_AS=nobody): exit 1, one clear line naming console.as, nothing started', async () => {
    const dataDir = freshDir();
    const r = await runCli(['start'], { input: '/help\n', env: deskEnv(dataDir, { DESKBOT_AS: 'nobody' }) });
    expectExit(r, 1);
    expect(r.stdout).toBe('');
    const naming = r.stderr.split('\n').filter((l) => l.includes('console.as'));
    expect(naming, r.stderr).toHaveLength(1);
    expect(naming[0]).toContain('nobody');
    expect(naming[0]).toContain('DESKBOT_AS');
    // a message for an operator, not a stack trace
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(plainLines(r.stderr).length, r.stderr).toBeLessThanOrEqual(2);
    // it failed before touching any state
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('lines starting with # are ignored and `exit` ends the session (later commands are not run)', async () => {
    const dataDir = freshDir();
    const r = await runCli(['start'], {
      input: '# a comment: /status would be wrong here\n/whoami\n\n   # indented comment\nexit\n/status\n/nonsense\n',
      env: deskEnv(dataDir),
    });
    expectExit(r, 0);
    expect(r.stdout).toMatch(/person\s+operator\b/);
    expect(r.stdout).not.toContain('Status');
    expect(r.stdout).not.toContain('Unknown command');
    expect(r.stdout).not.toContain('comment');
    const audit = readAuditLines(path.join(dataDir, 'audit.jsonl'));
    expect(audit.filter((l) => 'command' in l).map((l) => l.command)).toEqual(['whoami', 'whoami']); // decision + result
    expect(audit.at(-1)).toMatchObject({ kind: 'kernel', event: 'stopped' });
  });

  it('`quit` ends the session too', async () => {
    const dataDir = freshDir();
    const r = await runCli(['start'], { input: 'quit\n/whoami\n', env: deskEnv(dataDir) });
    expectExit(r, 0);
    expect(r.stdout).not.toContain('person');
  });
});

describe('audit log across restarts, and deskbot audit verify', { timeout: TEST_TIMEOUT }, () => {
  it('a second run continues the chain; verify says ok; editing a middle line makes verify fail naming it', async () => {
    const dataDir = freshDir();
    const auditFile = path.join(dataDir, 'audit.jsonl');
    const script = '/whoami\n/status\n/nonsense\n';

    const first = await runCli(['start'], { input: script, env: deskEnv(dataDir) });
    expectExit(first, 0);
    const afterFirst = rawAuditLines(auditFile);
    expect(afterFirst.length).toBeGreaterThan(3);

    const second = await runCli(['start'], { input: script, env: deskEnv(dataDir) });
    expectExit(second, 0);
    // console message ids are unique per run: the same commands again are answered, not deduped
    expect(second.stdout).toMatch(/person\s+operator\b/);
    expect(second.stdout).toMatch(/trading\s+running/);
    expect(second.stdout).toContain('Unknown command /nonsense');

    const all = rawAuditLines(auditFile);
    // the first run's lines are untouched, the second run's follow them
    expect(all.slice(0, afterFirst.length)).toEqual(afterFirst);
    expect(all.length).toBeGreaterThan(afterFirst.length);
    const records = all.map((l) => JSON.parse(l) as Record<string, unknown>);
    records.forEach((rec, i) => expect(rec.seq).toBe(i + 1));
    const joint = records[afterFirst.length] as Record<string, unknown>;
    expect(joint).toMatchObject({ kind: 'kernel', event: 'started' });
    expect(joint.prev).toBe(sha256(afterFirst.at(-1) as string));
    expect(records.filter((r) => r.kind === 'kernel').map((r) => r.event)).toEqual(['started', 'stopped', 'started', 'stopped']);

    // verify (default file: <dataDir>/audit.jsonl from the config + DESKBOT_DATA_DIR)
    const ok = await runCli(['audit', 'verify'], { env: deskEnv(dataDir) });
    expectExit(ok, 0);
    expect(ok.stdout).toMatch(/^ok:/);
    expect(ok.stdout).toContain(auditFile);
    expect(ok.stdout).toContain(`${all.length} lines`);

    // edit one field of a middle line, leaving its JSON otherwise byte-identical
    const k = Math.ceil(all.length / 2); // 1-based
    expect(k).toBeGreaterThan(1);
    expect(k).toBeLessThan(all.length);
    const original = all[k - 1] as string;
    const rec = JSON.parse(original) as Record<string, unknown>;
    expect(JSON.stringify(rec)).toBe(original);
    rec.at = '2001-01-01T00:00:00.000Z';
    const edited = JSON.stringify(rec);
    expect(edited).not.toBe(original);
    writeFileSync(auditFile, `${all.map((l, i) => (i === k - 1 ? edited : l)).join('\n')}\n`);

    const bad = await runCli(['audit', 'verify'], { env: deskEnv(dataDir) });
    expectExit(bad, 1);
    expect(bad.stdout).toMatch(/^FAILED:/);
    const blamed = /\bline (\d+)\b/.exec(bad.stdout);
    expect(blamed?.[1], bad.stdout).toBe(String(k));

    // the explicit-file form says the same
    const explicit = await runCli(['audit', 'verify', auditFile], { env: deskEnv(freshDir()) });
    expectExit(explicit, 1);
    expect(/\bline (\d+)\b/.exec(explicit.stdout)?.[1], explicit.stdout).toBe(String(k));
  });
});

describe('deskbot audit verify: where the log is and when there is none', { timeout: TEST_TIMEOUT }, () => {
  it('checks the same file the desk writes when audit.file is an absolute path', async () => {
    // Regression: the kernel once opened path.join(dataDir, audit.file), putting an absolute path
    // *under* dataDir, while `audit verify` resolved path.resolve(dataDir, audit.file).
    const dataDir = freshDir();
    const auditFile = path.join(freshDir('deskbot-audit-elsewhere-'), 'desk-audit.jsonl');
    const cfgFile = path.join(dataDir, 'abs-audit.yaml');
    const cfg = parse(DEFAULT_YAML) as { audit: { file: string } };
    cfg.audit.file = auditFile;
    writeFileSync(cfgFile, stringify(cfg));
    const env = deskEnv(dataDir, { DESKBOT_CONFIG: cfgFile });

    const run = await runCli(['start'], { input: '/whoami\n', env });
    expectExit(run, 0);
    expect(existsSync(auditFile), `the desk did not write its audit log at ${auditFile}`).toBe(true);
    const verify = await runCli(['audit', 'verify'], { env });
    expectExit(verify, 0);
    expect(verify.stdout).toContain(`ok: ${auditFile}`);
  });

  it('with no audit log yet: exit 1 and one line naming the file, not a stack trace', async () => {
    // Regression: verifyAuditLog rethrows ENOENT and auditVerify once let it reach main's
    // last-resort handler, which printed a stack trace.
    const dataDir = freshDir();
    const r = await runCli(['audit', 'verify'], { env: deskEnv(dataDir) });
    expectExit(r, 1);
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toContain(path.join(dataDir, 'audit.jsonl'));
    expect(out).not.toMatch(/^\s+at /m);
    expect(out.trim().split('\n'), out).toHaveLength(1);
  });
});

describe('deskbot check-config', { timeout: TEST_TIMEOUT }, () => {
  const OPENAI = 'sk-live-abcdef123456';
  const TELEGRAM = '123456:ABCDEF';

  it('prints the effective config and which secrets are set, never their values', async () => {
    const dataDir = freshDir();
    const r = await runCli(['check-config'], { env: deskEnv(dataDir, { OPENAI_API_KEY: OPENAI, TELEGRAM_BOT_TOKEN: TELEGRAM }) });
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^# config\/default\.yaml: valid/);

    const shown = parse(r.stdout) as Record<string, unknown> & { secrets: Record<string, string> };
    // the effective config: the file plus env overrides, with schema defaults filled in
    expect(shown).toMatchObject({
      instance: 'deskbot-local',
      dataDir,
      log: { level: 'warn' },
      store: { kind: 'auto (sqlite)' },
      redis: { url: null },
      console: { enabled: true, as: 'operator' },
    });
    expect(shown.secrets.OPENAI_API_KEY).toMatch(/^set\b/);
    expect(shown.secrets.TELEGRAM_BOT_TOKEN).toMatch(/^set\b/);
    expect(shown.secrets.SLACK_BOT_TOKEN).toBe('not set');

    for (const out of [r.stdout, r.stderr]) {
      expect(out).not.toContain(OPENAI);
      expect(out).not.toContain('abcdef123456');
      expect(out).not.toContain(TELEGRAM);
      expect(out).not.toContain('ABCDEF');
    }
  });

  it.each([
    ['a wrong type', 'windowHours: 24 ', 'windowHours: lots ', 'dedupe.windowHours'],
    ['a misspelt key', 'windowHours: 24 ', 'windowHour: 24 ', 'dedupe.windowHour'],
    ['a bad enum value', 'kind: auto ', 'kind: postgres ', 'store.kind'],
  ])('a config file with %s: exit 1 and one line naming the file and the field', async (_what, from, to, field) => {
    const dir = freshDir('deskbot-badcfg-');
    const file = path.join(dir, 'bad.yaml');
    expect(DEFAULT_YAML).toContain(from);
    writeFileSync(file, DEFAULT_YAML.replace(from, to));

    const r = await runCli(['check-config'], { env: deskEnv(freshDir(), { DESKBOT_CONFIG: file }) });
    expectExit(r, 1);
    expect(r.stdout).toBe('');
    const problems = plainLines(r.stderr).filter((l) => l !== 'deskbot: config error');
    expect(problems, r.stderr).toHaveLength(1);
    expect(problems[0]).toContain(file);
    expect(problems[0]).toContain(`${field}:`);
  });
});

describe('secrets never reach the terminal or the logs', { timeout: TEST_TIMEOUT }, () => {
  const SECRETS = {
    OPENAI_API_KEY: 'sk-live-abcdef123456',
    TELEGRAM_BOT_TOKEN: '123456:ABCDEF-tg-token',
    SLACK_BOT_TOKEN: 'xoxb-1111-2222-slacksecret',
    DISCORD_BOT_TOKEN: 'discord.bot.token.value',
    EXCHANGE_BINANCE_API_KEY: 'binance-key-0a1b2c3d',
    EXCHANGE_BINANCE_SECRET: 'binance-secret-4e5f6a7b',
  };

  it('a desk at debug level with secrets in env never prints a secret value', async () => {
    const dataDir = freshDir();
    const redisPassword = 'hunter2-redis-pass';
    // an explicit sqlite store, so REDIS_URL is set but never connected to
    const cfg = path.join(dataDir, 'sqlite.yaml');
    writeFileSync(cfg, DEFAULT_YAML.replace('kind: auto ', 'kind: sqlite '));
    const r = await runCli(['start'], {
      input: '/help\n/whoami\n/status\n/audit 50\n/nonsense\n/help status\n',
      env: deskEnv(dataDir, {
        ...SECRETS,
        DESKBOT_CONFIG: cfg,
        // a password inside REDIS_URL is a secret too
        REDIS_URL: `redis://:${redisPassword}@127.0.0.1:6379/0`,
        DESKBOT_LOG_LEVEL: 'debug',
      }),
    });
    expectExit(r, 0);
    // the debug level really was on
    expect(logLines(r.stderr).some((l) => l.level === 20), r.stderr).toBe(true);
    expect(r.stdout).toMatch(/Audit: last/);
    for (const value of [...Object.values(SECRETS), redisPassword]) {
      expect(r.stdout, `stdout shows ${value}`).not.toContain(value);
      expect(r.stderr, `stderr shows ${value}`).not.toContain(value);
      expect(readFileSync(path.join(dataDir, 'audit.jsonl'), 'utf8')).not.toContain(value);
    }
  });

  it('a start-up failure that involves a secret (unreachable Redis with a password) masks it', async () => {
    const dataDir = freshDir();
    const cfg = path.join(dataDir, 'redis.yaml');
    expect(DEFAULT_YAML).toContain('kind: auto ');
    writeFileSync(cfg, DEFAULT_YAML.replace('kind: auto ', 'kind: redis '));
    const port = await closedPort();
    const password = 'hunter2-redis-pass';
    const r = await runCli(['start'], {
      input: '/status\n',
      env: deskEnv(dataDir, { DESKBOT_CONFIG: cfg, REDIS_URL: `redis://:${password}@127.0.0.1:${port}/0`, DESKBOT_LOG_LEVEL: 'debug' }),
    });
    expectExit(r, 1);
    expect(r.stderr).toContain('cannot start');
    expect(r.stdout).not.toContain(password);
    expect(r.stderr).not.toContain(password);
  });
});

describe('shutdown on signals', { timeout: TEST_TIMEOUT }, () => {
  it('SIGTERM with stdin still open: exit 0, audit log flushed and ending with kernel stopped', async () => {
    const dataDir = freshDir();
    const desk = spawnCli(['start'], { keepStdinOpen: true, env: deskEnv(dataDir, { DESKBOT_LOG_LEVEL: 'info' }) });
    await desk.waitFor('stderr', 'deskbot ready');
    // a command answered before the signal: its lines must be in the flushed log too
    desk.write('/whoami\n');
    await desk.waitFor('stdout', /person\s+operator/);
    desk.kill('SIGTERM');
    const r = await desk.exited;
    expectExit(r, 0);
    expect(logLines(r.stderr).some((l) => l.msg === 'shutting down' && l.why === 'SIGTERM'), r.stderr).toBe(true);

    const audit = readAuditLines(path.join(dataDir, 'audit.jsonl'));
    expect(audit.at(-1)).toMatchObject({ kind: 'kernel', event: 'stopped' });
    expect(audit.some((l) => l.kind === 'decision' && l.command === 'whoami')).toBe(true);
    const verify = await runCli(['audit', 'verify'], { env: deskEnv(dataDir) });
    expectExit(verify, 0);
    expect(verify.stdout).toMatch(/^ok:/);
  });

  it('SIGTERM the moment "deskbot ready" is logged still shuts down cleanly (exit 0, kernel stopped)', async () => {
    // Whoever waits for the ready line (an orchestrator, a test) may signal at once. To hit that
    // moment deterministically, a preload sends the process SIGTERM from inside the write of the
    // ready line itself, the earliest instant anyone could react to it.
    const dataDir = freshDir();
    const preload = path.join(dataDir, 'sigterm-on-ready.mjs');
    writeFileSync(
      preload,
      `import fs from 'node:fs';
const write = fs.writeSync;
let fired = false;
fs.writeSync = function (fd, data, ...rest) {
  const n = write.call(this, fd, data, ...rest);
  if (!fired && fd === 2 && String(data).includes('deskbot ready')) {
    fired = true;
    process.kill(process.pid, 'SIGTERM');
  }
  return n;
};
`,
    );
    const desk = spawnCli(['start'], { keepStdinOpen: true, nodeArgs: ['--import', pathToFileURL(preload).href], env: deskEnv(dataDir, { DESKBOT_LOG_LEVEL: 'info' }) });
    const r = await desk.exited;
    expect(r.stderr).toContain('deskbot ready');
    expect(r.signal, `killed by ${String(r.signal)}: SIGTERM arrived before the desk installed its signal handlers\n${show(r)}`).toBeNull();
    expectExit(r, 0);
    expect(readAuditLines(path.join(dataDir, 'audit.jsonl')).at(-1)).toMatchObject({ kind: 'kernel', event: 'stopped' });
  });

  it('two SIGTERMs back to back: exit 0 (both seen as one) or 130 (the second cut it short); a 0 leaves a sound log', async () => {
    const dataDir = freshDir();
    const desk = spawnCli(['start'], { keepStdinOpen: true, env: deskEnv(dataDir, { DESKBOT_LOG_LEVEL: 'info' }) });
    await desk.waitFor('stderr', 'deskbot ready');
    // a reply proves the desk is past start-up (the test above is about signals during it)
    desk.write('/whoami\n');
    await desk.waitFor('stdout', /person\s+operator/);
    desk.kill('SIGTERM');
    desk.kill('SIGTERM');
    const r = await desk.exited;
    expect([0, 130], show(r)).toContain(r.code);
    if (r.code === 130) {
      expect(r.stderr).toContain('SIGTERM again, exiting without waiting');
    } else {
      expect(readAuditLines(path.join(dataDir, 'audit.jsonl')).at(-1)).toMatchObject({ kind: 'kernel', event: 'stopped' });
      const verify = await runCli(['audit', 'verify'], { env: deskEnv(dataDir) });
      expectExit(verify, 0);
    }
  });

  it('a second SIGTERM while shutdown waits for a command in flight exits at once with 130', async () => {
    // A plugin whose command never finishes keeps the shutdown waiting (drain), so the second
    // signal deterministically arrives while the first is still being handled.
    const dataDir = freshDir();
    const pluginsDir = path.join(dataDir, 'test-plugins');
    mkdirSync(path.join(pluginsDir, 'hang'), { recursive: true });
    writeFileSync(
      path.join(pluginsDir, 'hang', 'index.js'),
      `export default {
  name: 'hang',
  version: '1.0.0',
  setup(ctx) {
    ctx.command({
      name: 'hang',
      summary: 'never answers (test)',
      permission: null,
      handler: () => {
        ctx.log.warn('hang handler entered');
        return new Promise(() => {});
      },
    });
  },
};
`,
    );
    const cfg = parse(DEFAULT_YAML) as { plugins: { dirs: string[] } };
    cfg.plugins.dirs = ['plugins', pluginsDir];
    const cfgFile = path.join(dataDir, 'with-hang.yaml');
    writeFileSync(cfgFile, stringify(cfg));

    const desk = spawnCli(['start'], { keepStdinOpen: true, env: deskEnv(dataDir, { DESKBOT_CONFIG: cfgFile, DESKBOT_LOG_LEVEL: 'info' }) });
    await desk.waitFor('stderr', 'deskbot ready');
    desk.write('/hang\n');
    await desk.waitFor('stderr', 'hang handler entered');
    desk.kill('SIGTERM');
    await desk.waitFor('stderr', 'shutting down');
    expect(desk.exitedYet).toBe(false);
    desk.kill('SIGTERM');
    const r = await desk.exited;
    expectExit(r, 130);
    expect(r.stderr).toContain('SIGTERM again, exiting without waiting');

    // it did not wait: no "stopped" line, but what was written is a sound chain
    const auditFile = path.join(dataDir, 'audit.jsonl');
    expect(existsSync(auditFile)).toBe(true);
    const audit = readAuditLines(auditFile);
    expect(audit.some((l) => l.kind === 'decision' && l.command === 'hang')).toBe(true);
    expect(audit.at(-1)).not.toMatchObject({ kind: 'kernel', event: 'stopped' });
    const verify = await runCli(['audit', 'verify', auditFile], { env: deskEnv(dataDir) });
    expectExit(verify, 0);
  });
});

describe('the production example against a real Redis', { timeout: TEST_TIMEOUT }, () => {
  it('starts with the console off, runs until SIGTERM, and stops cleanly', async () => {
    const redisUrl = requireRedisUrl();
    const dataDir = freshDir();
    const desk = spawnCli(['start'], {
      nodeArgs: signalHandlerMarker(dataDir),
      env: deskEnv(dataDir, {
        DESKBOT_CONFIG: path.join(REPO_ROOT, 'config', 'production.example.yaml'),
        REDIS_URL: redisUrl,
        DESKBOT_LOG_LEVEL: 'info',
      }),
    });
    // stdin is already at its end: with the console disabled that must not stop the desk
    await desk.waitFor('stderr', 'deskbot ready');
    // nothing else shows the desk is past start-up with the console off; see the test on SIGTERM at ready
    await desk.waitFor('stderr', SIGTERM_HANDLED_MARKER);
    expect(desk.exitedYet).toBe(false);
    desk.kill('SIGTERM');
    const r = await desk.exited;
    expectExit(r, 0);
    expect(r.stdout).toBe('');
    const audit = readAuditLines(path.join(dataDir, 'audit.jsonl'));
    expect(audit[0]).toMatchObject({ kind: 'kernel', event: 'started', instance: 'deskbot-prod', store: 'redis' });
    expect(audit.at(-1)).toMatchObject({ kind: 'kernel', event: 'stopped' });
  });
});

/** A local port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
