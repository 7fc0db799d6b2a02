import type { Logger } from 'pino';
import type { Secrets } from '../../kernel/config/secrets.js';
import { TelegramAdapter, type TelegramConfig } from './telegram-adapter.js';

export { TelegramAdapter, type TelegramAdapterOptions, type TelegramConfig } from './telegram-adapter.js';
export { renderReply, MESSAGE_LIMIT, CAPTION_LIMIT, type Outgoing } from './render.js';

/**
 * The Telegram adapter the CLI attaches: null when TELEGRAM_BOT_TOKEN is not set or the config
 * says `enabled: false`.
 */
export function createTelegramAdapter(opts: { config: TelegramConfig; secrets: Secrets; logger: Logger }): TelegramAdapter | null {
  if (!opts.config.enabled) return null;
  const token = opts.secrets.get('TELEGRAM_BOT_TOKEN');
  if (token === undefined) return null;
  return new TelegramAdapter({ token, config: opts.config, logger: opts.logger.child({ adapter: 'telegram' }) });
}
