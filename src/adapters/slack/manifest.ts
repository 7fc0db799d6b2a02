import { stringify } from 'yaml';
import type { RegisteredCommand } from '../../kernel/commands/command.js';

/**
 * The Slack app manifest (api.slack.com/apps → "Create from a manifest") for the commands the
 * desk has: one slash command per registered command, the scopes the adapter uses, the
 * app_mention event and interactivity for buttons. docs/slack-manifest.yaml is this output for
 * the default plugins; a test fails when it is stale.
 */

/**
 * Slack's own commands, which an app cannot register. A desk command with one of these names
 * becomes /desk_<name> in Slack (and "@deskbot <name>" works as always).
 */
export const SLACK_RESERVED_COMMANDS: ReadonlySet<string> = new Set([
  'active', 'away', 'archive', 'call', 'collapse', 'dm', 'dnd', 'expand', 'feed', 'feedback', 'invite', 'join', 'kick',
  'leave', 'me', 'msg', 'mute', 'open', 'remind', 'remove', 'rename', 'search', 'shortcuts', 'shrug', 'star', 'status',
  'topic', 'who', 'apps',
]);
const PREFIX = 'desk_';

/** The slash command Slack knows a desk command by: "/price", or "/desk_status" for a reserved name. */
export function slackCommandName(name: string): string {
  return SLACK_RESERVED_COMMANDS.has(name) ? `/${PREFIX}${name}` : `/${name}`;
}

/** Back from what Slack sends ("/desk_status") to the desk's command ("/status"). */
export function deskCommandName(slashCommand: string): string {
  const name = slashCommand.replace(/^\//, '').toLowerCase();
  const inner = name.startsWith(PREFIX) ? name.slice(PREFIX.length) : undefined;
  return `/${inner !== undefined && SLACK_RESERVED_COMMANDS.has(inner) ? inner : name}`;
}

export interface ManifestOptions {
  /** the app and bot user's name */
  name?: string;
  description?: string;
  /** socket: no public URL needed; http: Slack POSTs to `requestUrl` (…/slack/events) */
  mode: 'socket' | 'http';
  requestUrl?: string;
}

/** The scopes the adapter's calls need: slash commands, posting (also ephemeral and in channels it was not invited to), file uploads, mentions. */
export const BOT_SCOPES = ['app_mentions:read', 'chat:write', 'chat:write.public', 'commands', 'files:write'] as const;

export function slackManifest(commands: readonly RegisteredCommand[], opts: ManifestOptions): Record<string, unknown> {
  const name = opts.name ?? 'deskbot';
  if (opts.mode === 'http' && !opts.requestUrl) throw new Error('an HTTP-mode manifest needs requestUrl (https://<your host>/slack/events)');
  const url = opts.mode === 'http' ? { url: opts.requestUrl } : {};
  const slash = commands.map((c) => {
    const usage = c.usage.replace(/^\/\S+\s*/, '');
    return {
      command: slackCommandName(c.spec.name),
      ...url,
      description: clip(c.spec.summary, 100),
      ...(usage !== '' ? { usage_hint: clip(usage, 100) } : {}),
      should_escape: false,
    };
  });
  return {
    _metadata: { major_version: 1, minor_version: 1 },
    display_information: {
      name,
      description: clip(opts.description ?? 'Crypto trading desk: prices, signals, risk and orders from chat', 140),
    },
    features: {
      bot_user: { display_name: name, always_online: true },
      slash_commands: slash,
    },
    oauth_config: { scopes: { bot: [...BOT_SCOPES] } },
    settings: {
      event_subscriptions: { ...(opts.mode === 'http' ? { request_url: opts.requestUrl } : {}), bot_events: ['app_mention'] },
      interactivity: { is_enabled: true, ...(opts.mode === 'http' ? { request_url: opts.requestUrl } : {}) },
      org_deploy_enabled: false,
      socket_mode_enabled: opts.mode === 'socket',
      token_rotation_enabled: false,
    },
  };
}

/** The manifest as the YAML Slack's manifest editor takes, with a header saying where it came from. */
export function slackManifestYaml(commands: readonly RegisteredCommand[], opts: ManifestOptions): string {
  const header = [
    '# Slack app manifest for deskbot, generated from the command registry by src/adapters/slack/manifest.ts.',
    '# Do not edit by hand: regenerate with UPDATE_SLACK_MANIFEST=1 npx vitest run tests/unit/slack-manifest.test.ts',
    `# Mode: ${opts.mode === 'socket' ? 'Socket Mode (SLACK_APP_TOKEN, no public URL). For the HTTP receiver, set socket_mode_enabled: false and add url / request_url https://<host>/slack/events' : `HTTP receiver at ${opts.requestUrl ?? ''}`}.`,
    '',
  ].join('\n');
  return header + stringify(slackManifest(commands, opts), { lineWidth: 0 });
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
