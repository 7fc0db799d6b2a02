import { afterEach, describe, expect, it } from 'vitest';
import status from '../../plugins/status/index.js';
import { definePlugin } from '../../src/kernel/index.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';

let desk: TestDesk;
afterEach(async () => desk.kernel.stop());

describe('/status', () => {
  it('shows version, uptime, trading state, store and plugins with versions', async () => {
    const other = definePlugin({ name: 'signals', version: '0.3.1', setup: () => undefined });
    desk = await startDesk({ plugins: [status, other] });
    desk.clock.advance(3_723_000);
    const out = await desk.say('vic', '/status');
    expect(out).toMatch(/deskbot\s+\d+\.\d+\.\d+ \(test\)/);
    expect(out).toMatch(/uptime\s+1h 2m/);
    expect(out).toMatch(/trading\s+running/);
    expect(out).toMatch(/store\s+memory/);
    expect(out).toMatch(/market\s+live: binance, kraken \(default binance\)/);
    expect(out).toMatch(/signals\s+0\.3\.1/);
    expect(out).toMatch(/status\s+1\.0\.0/);
  });

  it('says HALTED, by whom and why, once the kill switch is thrown', async () => {
    desk = await startDesk({ plugins: [status] });
    const changes: boolean[] = [];
    desk.kernel.events.on('halt.changed', (s) => void changes.push(s.halted));
    await desk.kernel.halt.halt('ann', 'exchange incident');
    expect(await desk.say('ann', '/st')).toMatch(/trading\s+HALTED since \S+ by ann: exchange incident/);
    expect(changes).toEqual([true]);
  });

  it('needs market:read', async () => {
    desk = await startDesk({ plugins: [status] });
    expect(await desk.say('x', '/status', { platform: 'telegram', userId: '777' })).toContain("I don't know you yet");
  });

  it('rejects an unknown config field for the plugin at start-up', async () => {
    const err = await startDesk({ plugins: [status], config: testConfig({ plugins: { settings: { status: { showPID: true } } } }) }).catch(
      (e: unknown) => e as Error,
    );
    expect(String(err)).toContain('plugin status: config plugins.settings.status: Unrecognized key: "showPID"');
    desk = await startDesk({ plugins: [] });
  });
});
