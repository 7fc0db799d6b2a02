import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { deskCommandName, slackCommandName, slackManifest, slackManifestYaml } from '../../src/adapters/slack/manifest.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { testConfig } from '../helpers/kernel.js';
import { sharedDataDir } from '../helpers/recorded.js';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'slack-manifest.yaml');

/** the commands of the desk as shipped: every plugin folder discovered, as `deskbot start` does */
async function defaultCommands() {
  const kernel = await Kernel.start({
    config: testConfig({ market: { dir: sharedDataDir() }, trading: { pollMs: 0 } }),
    secrets: readSecrets({}),
    logger: pino({ level: 'silent' }),
  });
  try {
    return kernel.registry.list();
  } finally {
    await kernel.stop();
  }
}

type Manifest = {
  features: { slash_commands: Array<{ command: string; description: string; usage_hint?: string; url?: string; should_escape: boolean }> };
  settings: Record<string, unknown> & { socket_mode_enabled: boolean; event_subscriptions: Record<string, unknown>; interactivity: Record<string, unknown> };
  oauth_config: { scopes: { bot: string[] } };
};

describe('Slack app manifest', () => {
  it('docs/slack-manifest.yaml is what the generator makes for the default plugins (UPDATE_SLACK_MANIFEST=1 rewrites it)', async () => {
    const yaml = slackManifestYaml(await defaultCommands(), { mode: 'socket' });
    if (process.env.UPDATE_SLACK_MANIFEST === '1') writeFileSync(DOC, yaml);
    expect(readFileSync(DOC, 'utf8'), 'docs/slack-manifest.yaml is stale: regenerate it with UPDATE_SLACK_MANIFEST=1').toBe(yaml);
  });

  it('one slash command per desk command, within Slack’s limits; reserved names get a prefix that maps back', async () => {
    const commands = await defaultCommands();
    const m = slackManifest(commands, { mode: 'socket' }) as unknown as Manifest;
    const slash = m.features.slash_commands;
    expect(slash.map((s) => deskCommandName(s.command))).toEqual(commands.map((c) => `/${c.spec.name}`));
    for (const s of slash) {
      expect(s.command).toMatch(/^\/[a-z0-9_-]{1,32}$/);
      expect(s.description.length).toBeGreaterThan(0);
      expect(s.description.length).toBeLessThanOrEqual(100);
      expect(s.url).toBeUndefined();
    }
    expect(slash.find((s) => s.command === '/price')?.usage_hint).toBeTruthy();
    expect(slash.map((s) => s.command)).toContain('/desk_status');
    expect(slash.map((s) => s.command)).not.toContain('/status');
    expect(m.settings.socket_mode_enabled).toBe(true);
    expect(m.settings.event_subscriptions).toEqual({ bot_events: ['app_mention'] });
    expect(m.oauth_config.scopes.bot).toEqual(expect.arrayContaining(['commands', 'chat:write', 'files:write', 'app_mentions:read']));
  });

  it('HTTP mode points commands, events and interactivity at the request URL', () => {
    const url = 'https://desk.example.com/slack/events';
    const cmd = { plugin: 'kernel', usage: '/whoami', spec: { name: 'whoami', summary: 'Who you are to the desk', permission: null, handler: () => ({ blocks: [] }) } };
    const m = slackManifest([cmd], { mode: 'http', requestUrl: url }) as unknown as Manifest;
    expect(m.features.slash_commands).toEqual([{ command: '/whoami', url, description: 'Who you are to the desk', should_escape: false }]);
    expect(m.settings.event_subscriptions['request_url']).toBe(url);
    expect(m.settings.interactivity).toEqual({ is_enabled: true, request_url: url });
    expect(m.settings.socket_mode_enabled).toBe(false);
    expect(() => slackManifest([cmd], { mode: 'http' })).toThrow(/requestUrl/);
    expect(parse(slackManifestYaml([cmd], { mode: 'http', requestUrl: url }))).toEqual(m);
  });

  it('command names: reserved ones round-trip, others are themselves', () => {
    expect(slackCommandName('status')).toBe('/desk_status');
    expect(deskCommandName('/desk_status')).toBe('/status');
    expect(slackCommandName('price')).toBe('/price');
    expect(deskCommandName('/price')).toBe('/price');
    // a prefix on a name that is not reserved is not stripped
    expect(deskCommandName('/desk_price')).toBe('/desk_price');
  });
});
