import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { definePlugin, type PluginManifest } from '../../src/kernel/index.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { loadPluginModule, orderByNeeds, pluginFolders } from '../../src/kernel/plugins/discover.js';
import { startDesk, testConfig } from '../helpers/kernel.js';

function recorder(log: string[], name: string, needs: string[] = [], extra: Partial<PluginManifest> = {}): PluginManifest {
  return definePlugin({
    name,
    version: '1.0.0',
    needs,
    setup(ctx) {
      log.push(`setup ${name}`);
      ctx.onClose(() => void log.push(`close ${name} (onClose)`));
      return () => void log.push(`teardown ${name}`);
    },
    ...extra,
  });
}

declare module '../../src/kernel/index.js' {
  interface Services {
    prices: { last(symbol: string): number };
  }
}

describe('plugin order', () => {
  it('sets up after what a plugin needs, alphabetically otherwise, and tears down in reverse', async () => {
    const log: string[] = [];
    const desk = await startDesk({
      plugins: [recorder(log, 'digest', ['signals', 'risk']), recorder(log, 'signals', ['market']), recorder(log, 'risk'), recorder(log, 'market')],
    });
    expect(log).toEqual(['setup market', 'setup risk', 'setup signals', 'setup digest']);
    log.length = 0;
    await desk.kernel.stop();
    expect(log).toEqual([
      'teardown digest',
      'close digest (onClose)',
      'teardown signals',
      'close signals (onClose)',
      'teardown risk',
      'close risk (onClose)',
      'teardown market',
      'close market (onClose)',
    ]);
  });

  it('names a missing need and a cycle', () => {
    const log: string[] = [];
    const found = (ps: PluginManifest[]) => ps.map((manifest) => ({ manifest, from: 'test' }));
    expect(() => orderByNeeds(found([recorder(log, 'signals', ['market'])]))).toThrow(
      'plugin signals needs plugin market, which is not loaded (missing or disabled)',
    );
    expect(() => orderByNeeds(found([recorder(log, 'a', ['b']), recorder(log, 'b', ['c']), recorder(log, 'c', ['a'])]))).toThrow(
      'plugins need each other in a cycle: a → b → c → a',
    );
    expect(() => orderByNeeds(found([recorder(log, 'a'), recorder(log, 'a')]))).toThrow('plugin a is defined twice');
  });

  it('a setup that fails tears down the plugins already set up and names the plugin', async () => {
    const log: string[] = [];
    const bad = definePlugin({
      name: 'zeta',
      version: '1.0.0',
      setup() {
        throw new Error('exchange list is empty');
      },
    });
    await expect(startDesk({ plugins: [recorder(log, 'alpha'), bad] })).rejects.toThrow('plugin zeta: setup failed: exchange list is empty');
    expect(log).toEqual(['setup alpha', 'teardown alpha', 'close alpha (onClose)']);
  });
});

describe('plugin config', () => {
  const withSchema = definePlugin({
    name: 'signals',
    version: '1.0.0',
    config: z.object({ lookback: z.number().int().positive().default(200), strategy: z.string().default('trend') }).strict(),
    setup(ctx) {
      ctx.command({ name: 'lookback', summary: 'x', permission: null, handler: () => ({ blocks: [{ type: 'text', text: String(ctx.config.lookback) }] }) });
    },
  });

  it('validates the section and hands the parsed value with defaults to setup', async () => {
    const desk = await startDesk({ plugins: [withSchema], config: testConfig({ plugins: { settings: { signals: { lookback: 50 } } } }) });
    expect(await desk.say('ann', '/lookback')).toBe('50');
    await desk.kernel.stop();
  });

  it('a bad section stops start-up with one line naming plugin, field and expectation', async () => {
    const config = testConfig({ plugins: { settings: { signals: { lookback: 'long' } } } });
    const err = await startDesk({ plugins: [withSchema], config }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toBe('plugin signals: config plugins.settings.signals.lookback: Invalid input: expected number, received string');
    expect(msg.split('\n')).toHaveLength(1);
  });

  it('an unknown field is named too', async () => {
    const config = testConfig({ plugins: { settings: { signals: { lookbak: 5 } } } });
    await expect(startDesk({ plugins: [withSchema], config })).rejects.toThrow(/^plugin signals: config plugins\.settings\.signals: Unrecognized key: "lookbak"$/);
  });
});

describe('services between plugins', () => {
  const provider = definePlugin({
    name: 'market',
    version: '1.0.0',
    setup(ctx) {
      ctx.provide('prices', { last: () => 42 });
    },
  });

  it('a plugin uses the service of a plugin it needs', async () => {
    let seen = 0;
    const user = definePlugin({
      name: 'signals',
      version: '1.0.0',
      needs: ['market'],
      setup(ctx) {
        seen = ctx.use('prices').last('BTC');
      },
    });
    const desk = await startDesk({ plugins: [user, provider] });
    expect(seen).toBe(42);
    await desk.kernel.stop();
  });

  it('and cannot reach one it did not declare in needs', async () => {
    const sneaky = definePlugin({
      name: 'zz-sneaky',
      version: '1.0.0',
      setup(ctx) {
        ctx.use('prices');
      },
    });
    await expect(startDesk({ plugins: [provider, sneaky] })).rejects.toThrow(
      'plugin zz-sneaky: uses service "prices" of market without listing market in needs',
    );
  });
});

describe('discovery', () => {
  it('finds plugin folders and checks each manifest before running anything', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'deskbot-plugins-'));
    mkdirSync(path.join(dir, 'hello'));
    writeFileSync(
      path.join(dir, 'hello', 'index.js'),
      `export default { name: 'hello', version: '0.1.0', setup(ctx) { ctx.command({ name: 'hello', summary: 'hi', permission: null, handler: () => ({ blocks: [{ type: 'text', text: 'hi ' + ctx.kernel.instance }] }) }); } };\n`,
    );
    mkdirSync(path.join(dir, 'broken'));
    writeFileSync(path.join(dir, 'broken', 'index.js'), `export default { name: 'Broken!', version: '1', setup: 3 };\n`);
    mkdirSync(path.join(dir, 'not-a-plugin'));

    const files = pluginFolders(dir);
    expect(files.map((f) => path.basename(path.dirname(f)))).toEqual(['broken', 'hello']);
    await expect(loadPluginModule(files[0] as string, 'plugins/broken')).rejects.toThrow(
      'plugin at plugins/broken: manifest name: a lower-case name like "signals"',
    );

    // a broken plugin on disk stops start-up with its folder and field named
    await expect(
      Kernel.start({ config: testConfig({ plugins: { dirs: [dir] } }), secrets: readSecrets({}), logger: pino({ level: 'silent' }) }),
    ).rejects.toThrow(/broken: manifest name: a lower-case name/);

    // disabled by folder name, it is not even imported
    const config = testConfig({ plugins: { dirs: [dir], disable: ['broken'] } });
    const kernel = await Kernel.start({ config, secrets: readSecrets({}), logger: pino({ level: 'silent' }) });
    expect(kernel.info().plugins().map((p) => p.name)).toEqual(['hello']);
    const r = await kernel.handle({ platform: 'console', id: 'd1', userId: 'ann', channelId: 't', text: '/hello' });
    expect(r?.blocks[0]).toEqual({ type: 'text', text: 'hi test' });
    await kernel.stop();
  });
});
