import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { freePort, pingOk } from '../helpers/redis-probe.js';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * vitest globalSetup: a throwaway redis-server for the whole run, handed to tests as
 * inject('redisUrl'). REDIS_URL in the environment wins. A missing or broken redis-server
 * does not throw here (tests that don't need Redis still run); tests that do call
 * requireRedisUrl() and fail with the reason in inject('redisError').
 */

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string | null;
    redisError: string | null;
  }
}

const START_TIMEOUT_MS = 10_000;

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const fromEnv = process.env['REDIS_URL'];
  if (fromEnv) {
    project.provide('redisUrl', fromEnv);
    project.provide('redisError', null);
    return undefined;
  }
  const bin = findOnPath('redis-server');
  if (!bin) {
    project.provide('redisUrl', null);
    project.provide('redisError', 'redis-server was not found on PATH');
    return undefined;
  }
  let lastError = 'unknown error';
  // A free port can be taken between probing and binding; a couple of retries covers that race.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    try {
      const child = await startRedis(bin, port);
      project.provide('redisUrl', `redis://127.0.0.1:${port}`);
      project.provide('redisError', null);
      return () => stop(child);
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
  }
  project.provide('redisUrl', null);
  project.provide('redisError', `redis-server would not start: ${lastError}`);
  return undefined;
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

async function startRedis(bin: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited: string | null = null;
  child.once('exit', (code, signal) => (exited = `exited (${signal ?? code}): ${output.trim().split('\n').slice(-3).join(' | ')}`));
  child.once('error', (err) => (exited = err.message));

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(exited);
    if (await pingOk(port)) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop(child);
  throw new Error(`no PONG on port ${port} within ${START_TIMEOUT_MS} ms`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
