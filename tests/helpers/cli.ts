import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isSecretEnvName } from '../../src/kernel/config/secrets.js';

/**
 * Helpers for running the real `deskbot` CLI as a child process: spawn with input, collect
 * stdout/stderr, wait for a line, and a hard timeout that kills the child so a hung desk
 * fails the test with its output instead of hanging the run. Timeouts are generous on purpose:
 * tests must never depend on how fast the machine is.
 */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The default limit for one CLI run, start-up included (tsx compiles on the fly). */
export const CLI_TIMEOUT_MS = 60_000;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** extra environment on top of cleanEnv(); a value of undefined removes a variable */
  env?: Record<string, string | undefined>;
  /** written to stdin, then stdin is ended (omit together with keepStdinOpen to leave it open) */
  input?: string;
  /** leave stdin open after writing `input` (a desk that waits for more) */
  keepStdinOpen?: boolean;
  /** kill the child (SIGKILL) and reject after this long; default CLI_TIMEOUT_MS */
  timeoutMs?: number;
  cwd?: string;
  /** extra node options before the script, e.g. ['--import', '/tmp/x/preload.mjs'] (spawnCli/runCli only) */
  nodeArgs?: string[];
}

/** A fresh, empty data directory under the OS temp dir, so no test touches the repo's data/. */
export function tempDir(prefix = 'deskbot-cli-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * The parent's environment without anything that would change what the CLI does: no DESKBOT_*
 * overrides, no secrets or REDIS_URL from the developer's shell, no colour forcing.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (k.startsWith('DESKBOT_') || isSecretEnvName(k) || k === 'FORCE_COLOR' || k === 'NO_COLOR') continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** A running CLI child with its output collected as it arrives. */
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;
  private readonly waiters: Array<() => void> = [];
  private done: CliResult | undefined;
  private readonly timer: NodeJS.Timeout;
  private killedByTest = false;

  constructor(
    readonly child: ChildProcess,
    readonly what: string,
    timeoutMs: number,
  ) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      this.stdout += d;
      this.poke();
    });
    child.stderr?.on('data', (d: string) => {
      this.stderr += d;
      this.poke();
    });
    // EPIPE when the child exits before reading all its input is not what a test is about
    child.stdin?.on('error', () => undefined);
    this.exited = new Promise<CliResult>((resolve, reject) => {
      child.once('error', reject);
      // 'close': the process exited and its stdio streams are drained, so the output is complete
      child.once('close', (code, signal) => {
        clearTimeout(this.timer);
        this.done = { code, signal, stdout: this.stdout, stderr: this.stderr };
        this.poke();
        resolve(this.done);
      });
    });
    this.timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    // never let a leftover timer keep the test worker alive
    this.timer.unref();
    // surface the timeout as a clear failure, with the output so far
    this.exited = this.exited.then((r) => {
      if (r.signal === 'SIGKILL' && !this.killedByTest) {
        throw new Error(`${what}: timed out after ${timeoutMs} ms and was killed\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
      }
      return r;
    });
  }

  /** Send a signal (the test's own, so a SIGKILL here is not reported as a timeout). */
  kill(signal: NodeJS.Signals): void {
    if (signal === 'SIGKILL') this.killedByTest = true;
    this.child.kill(signal);
  }

  write(text: string): void {
    this.child.stdin?.write(text);
  }

  endInput(): void {
    this.child.stdin?.end();
  }

  get exitedYet(): boolean {
    return this.done !== undefined;
  }

  /** Resolves when `pattern` appears in the stream; rejects if the process exits first or after timeoutMs. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp | string, timeoutMs = CLI_TIMEOUT_MS): Promise<void> {
    const seen = (): boolean => {
      const text = this[stream];
      return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
    };
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        remove();
        reject(new Error(`${this.what}: ${String(pattern)} did not appear on ${stream} within ${timeoutMs} ms\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`));
      }, timeoutMs);
      const check = (): void => {
        if (seen()) {
          clearTimeout(timer);
          remove();
          resolve();
        } else if (this.done !== undefined) {
          clearTimeout(timer);
          remove();
          reject(new Error(`${this.what}: exited (code ${this.done.code}, signal ${this.done.signal}) before ${String(pattern)} appeared on ${stream}\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`));
        }
      };
      const remove = (): void => {
        const i = this.waiters.indexOf(check);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      this.waiters.push(check);
      check();
    });
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }
}

function launch(command: string, args: string[], what: string, opts: CliOptions): CliProcess {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: cleanEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const proc = new CliProcess(child, what, opts.timeoutMs ?? CLI_TIMEOUT_MS);
  if (opts.input !== undefined) proc.write(opts.input);
  if (!opts.keepStdinOpen) proc.endInput();
  return proc;
}

/** `node --import tsx src/cli.ts <args>` from the repo root, running in the background. */
export function spawnCli(args: string[], opts: CliOptions = {}): CliProcess {
  const node = [...(opts.nodeArgs ?? []), '--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli.ts')];
  return launch(process.execPath, [...node, ...args], `deskbot ${args.join(' ')}`, opts);
}

/** `node --import tsx src/cli.ts <args>` to completion: exit code, stdout, stderr. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, opts).exited;
}

/** `npm start --silent` from the repo root, to completion. */
export function runNpmStart(opts: CliOptions = {}): Promise<CliResult> {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  return launch(npm, ['start', '--silent'], 'npm start --silent', opts).exited;
}

/** What the preload from signalHandlerMarker() writes to stderr once the CLI handles SIGTERM. */
export const SIGTERM_HANDLED_MARKER = '[test] SIGTERM handler installed';

/**
 * A preload (for CliOptions.nodeArgs) that reports on stderr when the CLI installs its SIGTERM
 * handler, so a test can signal a desk that has no other sign of being past start-up (console
 * disabled) without guessing with a sleep. Written into `dir`; returns the node arguments.
 */
export function signalHandlerMarker(dir: string): string[] {
  const file = path.join(dir, 'mark-sigterm-handler.mjs');
  writeFileSync(
    file,
    `const on = process.on;
process.on = function (event, listener) {
  const result = on.call(this, event, listener);
  if (event === 'SIGTERM') process.stderr.write(${JSON.stringify(`${SIGTERM_HANDLED_MARKER}
`)});
  return result;
};
`,
  );
  return ['--import', pathToFileURL(file).href];
}

/** The audit log's lines, parsed, oldest first. */
export function readAuditLines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** pino JSON log lines from a stderr dump (other lines, e.g. plain CLI errors, are skipped). */
export function logLines(stderr: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return out;
}
