/**
 * The desk side of `npm run bench -- adapters`, in its own process: a Kernel with the three chat
 * adapters attached by startAdapters, as `deskbot start` attaches them. The benchmark process
 * holds the platform fakes and the people; this one only answers, so neither side's work is
 * charged to the other's event loop (in production the platforms are on other machines).
 *
 * Protocol over the IPC channel (child_process.fork):
 *   parent → { type: 'start', config, env }   the parsed config's input and the token environment
 *   child  → { type: 'ready', platforms, slackPort } | { type: 'error', message }
 *   parent → { type: 'stop' }                  stop the kernel (adapters first), then exit
 *   child  → { type: 'stopped' }
 */
import { pino } from 'pino';
import { startAdapters } from '../../src/adapters/start.js';
import { configSchema } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { Kernel } from '../../src/kernel/kernel.js';

export type ToDesk = { type: 'start'; config: unknown; env: Record<string, string> } | { type: 'stop' };
export type FromDesk =
  | { type: 'ready'; platforms: string[]; slackPort: number | undefined }
  | { type: 'error'; message: string }
  | { type: 'stopped' };

function send(msg: FromDesk): void {
  process.send?.(msg);
}

let kernel: Kernel | undefined;
let stopping: Promise<void> | undefined;

function stop(): Promise<void> {
  stopping ??= (kernel?.stop() ?? Promise.resolve()).catch((e: unknown) => console.error(`desk: stop failed: ${e instanceof Error ? e.message : String(e)}`));
  return stopping;
}

async function start(input: unknown, env: Record<string, string>): Promise<void> {
  const config = configSchema.parse(input);
  const secrets = readSecrets(env);
  const logger = pino({ level: 'silent' });
  kernel = await Kernel.start({ config, secrets, logger, plugins: [], discover: false });
  const platforms = await startAdapters(kernel, config, secrets, logger);
  // Slack calls the app's Request URL: the receiver's port is in its health detail
  const slackDetail = kernel.adapterHealth().find((h) => h.platform === 'slack')?.detail ?? '';
  const port = /on port (\d+)\//.exec(slackDetail)?.[1];
  send({ type: 'ready', platforms, slackPort: port === undefined ? undefined : Number(port) });
}

process.on('message', (msg: ToDesk) => {
  if (msg.type === 'start') {
    start(msg.config, msg.env).catch((e: unknown) => send({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
  } else if (msg.type === 'stop') {
    void stop().then(() => {
      send({ type: 'stopped' });
      process.disconnect();
    });
  }
});
// the benchmark went away: nothing to answer any more
process.on('disconnect', () => {
  void stop().then(() => process.exit(0));
});
