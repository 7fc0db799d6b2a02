import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, pingOk } from './redis-probe.js';

/**
 * A redis-server of the test's own, on a free port, that the test can stop and start again on the
 * same port (the shared test Redis from globalSetup must never be stopped). With `persistent`, it
 * runs as production should: append-only file on (`--appendonly yes`, fsync every second) in a
 * data dir of its own, so what was written survives a restart.
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  readonly dir: string;

  private constructor(
    readonly port: number,
    private readonly persistent: boolean,
  ) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'deskbot-redis-'));
  }

  static async start(opts: { persistent: boolean }): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), opts.persistent);
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** (re)start on the same port and dir; resolves once it answers PING (it has loaded its data by then) */
  async start(): Promise<void> {
    if (this.running) return;
    const persistence = this.persistent ? ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''] : ['--appendonly', 'no', '--save', ''];
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, ...persistence, '--loglevel', 'warning'], { stdio: 'ignore' });
    this.child = child;
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(new Error(`redis-server could not be started (is it installed? apt-get install -y redis-server): ${err.message}`)));
    });
    await spawned;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} on port ${this.port}`);
      if (await pingOk(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`redis-server did not answer PING on port ${this.port} within 20 s`);
  }

  /** SIGTERM, as an orchestrator stops it: Redis flushes its append-only file and exits */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  /** stop it and remove its data dir */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
