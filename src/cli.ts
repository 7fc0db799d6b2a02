#!/usr/bin/env node
import { statSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { ConsoleAdapter } from './adapters/console/console-adapter.js';
import { startAdapters } from './adapters/start.js';
import { BACKTEST_USAGE, runBacktestCli } from './cli/backtest.js';
import { DATA_DOWNLOAD_USAGE, runDataDownload } from './cli/data-download.js';
import { verifyAuditLog } from './kernel/audit.js';
import { describeConfig, loadConfig } from './kernel/config/load.js';
import type { DeskbotConfig } from './kernel/config/schema.js';
import { HEARTBEAT_FILE, HOUSEKEEPING_MS, Kernel, packageVersion } from './kernel/kernel.js';
import { createLogger } from './kernel/logger.js';

const USAGE = `deskbot ${packageVersion()} — a chat-ops trading desk

usage: deskbot <command>

  start               run the desk (terminal chat when console.enabled; adapters from env tokens)
  check-config        validate the config and print it with secrets masked
  audit verify [file] check the audit log's hash chain (default: <dataDir>/audit.jsonl)
  health              exit 0 when a running desk's heartbeat is fresh (container healthcheck)
  data download ...   candles from an exchange into the market dir as CSV (resumable, gate-checked)
  backtest ...        a strategy on a symbol: metrics next to buy-and-hold (--json: the /backtest numbers)
  version             print the version

environment: DESKBOT_CONFIG (config file), DESKBOT_DATA_DIR, DESKBOT_AS (terminal person),
             DESKBOT_LOG_LEVEL; secrets as listed in docs/configuration.md`;

/** Exit codes: 0 ok, 1 a check failed / bad config, 2 usage. */
async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return start();
    case 'check-config':
      return checkConfig();
    case 'audit':
      if (rest[0] === 'verify') return auditVerify(rest[1]);
      process.stderr.write('usage: deskbot audit verify [file]\n');
      return 2;
    case 'health':
      return health();
    case 'data':
      if (rest[0] === 'download') {
        return runDataDownload(rest.slice(1), { env: process.env, cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr });
      }
      process.stderr.write(`${DATA_DOWNLOAD_USAGE}\n`);
      return 2;
    case 'backtest': {
      if (rest.length === 0) {
        process.stderr.write(`${BACKTEST_USAGE}\n`);
        return 2;
      }
      // Ctrl-C stops the run between chunks; a second one exits at once
      const stop = new AbortController();
      process.once('SIGINT', () => {
        stop.abort();
        process.once('SIGINT', () => process.exit(130));
      });
      return runBacktestCli(rest, { env: process.env, cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr, signal: stop.signal });
    }
    case 'version':
    case '--version':
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`deskbot: unknown command "${cmd}"\n\n${USAGE}\n`);
      return 2;
  }
}

function config(): { config: DeskbotConfig; secrets: ReturnType<typeof loadConfig> & { ok: true } } | undefined {
  const r = loadConfig({ env: process.env, cwd: process.cwd() });
  if (!r.ok) {
    process.stderr.write(`deskbot: config error\n${r.error}\n`);
    return undefined;
  }
  return { config: r.config, secrets: r };
}

function checkConfig(): number {
  const c = config();
  if (!c) return 1;
  process.stdout.write(`# ${c.secrets.source}: valid\n${describeConfig(c.config, c.secrets.secrets)}`);
  return 0;
}

async function auditVerify(file: string | undefined): Promise<number> {
  let target = file;
  if (target === undefined) {
    const c = config();
    if (!c) return 1;
    target = path.resolve(c.config.dataDir, c.config.audit.file);
  }
  let r: Awaited<ReturnType<typeof verifyAuditLog>>;
  try {
    r = await verifyAuditLog(target);
  } catch (e) {
    const why = e instanceof Error && 'code' in e && e.code === 'ENOENT' ? 'no audit log there yet' : e instanceof Error ? e.message : String(e);
    process.stdout.write(`FAILED: ${target}: ${why}\n`);
    return 1;
  }
  if (r.ok) {
    process.stdout.write(`ok: ${target}: ${r.lines} lines, chain intact, head ${r.head.slice(0, 16)}…\n`);
    return 0;
  }
  process.stdout.write(`FAILED: ${target}: line ${r.firstBadLine}: ${r.problem}\n`);
  return 1;
}

/** Alive = the kernel touched its heartbeat file within three housekeeping rounds. */
function health(): number {
  const c = config();
  if (!c) return 1;
  const file = path.resolve(c.config.dataDir, HEARTBEAT_FILE);
  let age: number;
  try {
    age = Date.now() - statSync(file).mtimeMs;
  } catch {
    process.stdout.write(`unhealthy: no heartbeat at ${file} (is deskbot running?)\n`);
    return 1;
  }
  if (age > 3 * HOUSEKEEPING_MS) {
    process.stdout.write(`unhealthy: last heartbeat ${Math.round(age / 1000)} s ago\n`);
    return 1;
  }
  process.stdout.write(`ok: heartbeat ${Math.round(age / 1000)} s ago\n`);
  return 0;
}

async function start(): Promise<number> {
  const c = config();
  if (!c) return 1;
  const cfg = c.config;
  const dataDir = path.resolve(cfg.dataDir);
  const logger = createLogger({
    level: cfg.log.level,
    destination: cfg.log.destination === 'stderr' ? 'stderr' : path.resolve(dataDir, cfg.log.destination),
    pretty: cfg.log.pretty,
    secrets: c.secrets.secrets.values(),
  });

  // Signal handlers go in before start-up, so a SIGTERM at any moment (docker stop right after
  // start) still shuts down cleanly: stop waits for the start to finish, then stops the kernel.
  const starting = Kernel.start({ config: cfg, secrets: c.secrets.secrets, logger });
  let consoleDesk: ConsoleAdapter | undefined;
  let signals = 0;
  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      const k = await starting.catch(() => undefined);
      if (!k) {
        process.exitCode = 1; // start-up failed; its error line is written by start()
        return;
      }
      logger.info({ why }, 'shutting down');
      consoleDesk?.close();
      await k.stop();
    })();
    return stopping;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      // a second signal: the operator wants out now
      process.stderr.write(`deskbot: ${sig} again, exiting without waiting\n`);
      process.exit(130);
    }
    void stop(sig).then(() => process.exit(process.exitCode ?? 0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let kernel: Kernel;
  try {
    kernel = await starting;
  } catch (e) {
    // one line for the operator: which plugin / field / file, not a stack
    process.stderr.write(`deskbot: cannot start: ${e instanceof Error ? e.message : String(e)}\n`);
    logger.debug({ err: e }, 'start-up failed');
    return 1;
  }
  if (stopping) {
    // a signal arrived during start-up: its handler finishes the shutdown and exits
    await stopping;
    return 0;
  }

  const platforms = await startAdapters(kernel, cfg, c.secrets.secrets, logger);
  if (platforms.length > 0) logger.info({ platforms }, 'chat platforms connected');

  if (cfg.console.enabled) {
    const person = cfg.people[cfg.console.as];
    const ids = person?.ids.console;
    const userId = ids === undefined ? cfg.console.as : Array.isArray(ids) ? (ids[0] ?? cfg.console.as) : ids;
    consoleDesk = new ConsoleAdapter(kernel, {
      input: process.stdin,
      output: process.stdout,
      interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
      userId,
      imageDir: path.join(kernel.dataDir, 'out'),
    });
    await kernel.attach(consoleDesk);
    await consoleDesk.run();
    // end of input (a script) or `exit`: the desk is done
    await stop('end of terminal input');
    return 0;
  }
  // no terminal: run until a signal
  await new Promise<void>(() => undefined);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`deskbot: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
