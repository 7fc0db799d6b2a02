import type { Logger } from 'pino';
import type { AdaptersConfig } from '../../kernel/config/schema.js';
import type { Secrets } from '../../kernel/config/secrets.js';
import { DiscordAdapter } from './discord-adapter.js';

export { DiscordAdapter, type DiscordAdapterOptions } from './discord-adapter.js';
export { renderReply, DISCORD_LIMITS, type OutMessage } from './render.js';
export { applicationCommands, commandLine } from './commands.js';

/**
 * The Discord adapter the CLI attaches, or null when it is switched off (`enabled: false`) or
 * DISCORD_BOT_TOKEN is not set.
 */
export function createDiscordAdapter(opts: { config: AdaptersConfig['discord']; secrets: Secrets; logger: Logger }): DiscordAdapter | null {
  const { config } = opts;
  if (!config.enabled) return null;
  const token = opts.secrets.get('DISCORD_BOT_TOKEN');
  if (token === undefined) return null;
  if (config.gatewayUrl !== null) {
    // discord.js has no gateway URL option: it asks GET /gateway/bot on the REST base, as Discord intends
    opts.logger.warn({ gatewayUrl: config.gatewayUrl }, 'adapters.discord.gatewayUrl is ignored: discord.js takes the gateway URL from GET /gateway/bot on apiBase');
  }
  return new DiscordAdapter({ token, logger: opts.logger, apiBase: config.apiBase, guildId: config.guildId });
}
