import type { Logger } from 'pino';
import type { AdaptersConfig } from '../../kernel/config/schema.js';
import type { Secrets } from '../../kernel/config/secrets.js';
import { SlackAdapter } from './slack-adapter.js';

export { SlackAdapter, SLACK_EVENTS_PATH, type SlackAdapterOptions, type SlackConfig } from './slack-adapter.js';
export { renderReply, type SlackPart } from './render.js';
export { slackManifest, slackManifestYaml, slackCommandName, deskCommandName, type ManifestOptions } from './manifest.js';

/**
 * The Slack adapter the CLI attaches, or null when Slack is off (`enabled: false`) or has no
 * SLACK_BOT_TOKEN. A bot token without the mode's second secret is a configuration mistake
 * and throws, naming the missing variable.
 */
export function createSlackAdapter(opts: { config: AdaptersConfig['slack']; secrets: Secrets; logger: Logger }): SlackAdapter | null {
  const { config, secrets } = opts;
  if (!config.enabled) return null;
  const botToken = secrets.get('SLACK_BOT_TOKEN');
  if (botToken === undefined) return null;
  const appToken = secrets.get('SLACK_APP_TOKEN');
  const signingSecret = secrets.get('SLACK_SIGNING_SECRET');
  if (config.mode === 'socket' && appToken === undefined) {
    throw new Error('adapters.slack.mode is "socket" but SLACK_APP_TOKEN is not set: add the app-level token (xapp-…), or use mode "http" with SLACK_SIGNING_SECRET');
  }
  if (config.mode === 'http' && signingSecret === undefined) {
    throw new Error('adapters.slack.mode is "http" but SLACK_SIGNING_SECRET is not set: Bolt needs it to verify requests from Slack');
  }
  return new SlackAdapter({
    config,
    botToken,
    logger: opts.logger.child({ adapter: 'slack' }),
    ...(appToken !== undefined ? { appToken } : {}),
    ...(signingSecret !== undefined ? { signingSecret } : {}),
  });
}
