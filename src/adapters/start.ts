import type { Logger } from 'pino';
import type { ChatAdapter } from '../kernel/adapters.js';
import type { DeskbotConfig } from '../kernel/config/schema.js';
import type { Secrets } from '../kernel/config/secrets.js';
import type { Kernel } from '../kernel/kernel.js';
import { createDiscordAdapter } from './discord/index.js';
import { createSlackAdapter } from './slack/index.js';
import { createTelegramAdapter } from './telegram/index.js';

/**
 * Attach every chat platform whose token is in the environment (and not disabled in config).
 * One platform failing to connect is logged and left out: it must not keep the others, the
 * terminal or the kernel from running. Returns the platforms that connected.
 */
export async function startAdapters(kernel: Kernel, config: DeskbotConfig, secrets: Secrets, logger: Logger): Promise<string[]> {
  // each factory tags its own log lines with the platform
  const made: Array<[string, () => ChatAdapter | null]> = [
    ['telegram', () => createTelegramAdapter({ config: config.adapters.telegram, secrets, logger })],
    ['slack', () => createSlackAdapter({ config: config.adapters.slack, secrets, logger })],
    ['discord', () => createDiscordAdapter({ config: config.adapters.discord, secrets, logger })],
  ];
  const connected: string[] = [];
  await Promise.all(
    made.map(async ([platform, make]) => {
      try {
        const adapter = make();
        if (adapter === null) return;
        await kernel.attach(adapter);
        connected.push(platform);
      } catch (err) {
        logger.error({ platform, error: err instanceof Error ? err.message : String(err) }, 'chat adapter did not start; the desk runs without it');
        kernel.audit.append({ kind: 'adapter', platform, event: 'start-failed', error: err instanceof Error ? err.message : String(err) });
      }
    }),
  );
  return connected.sort();
}
