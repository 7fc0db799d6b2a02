import { readdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import digest from '../../plugins/digest/index.js';
import execution from '../../plugins/execution/index.js';
import market from '../../plugins/market/index.js';
import regimes from '../../plugins/regimes/index.js';
import risk from '../../plugins/risk/index.js';
import signals from '../../plugins/signals/index.js';
import { ConsoleAdapter } from '../../src/adapters/console/console-adapter.js';
import { sharedDataDir } from '../helpers/recorded.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { storeFixtures } from '../helpers/stores.js';

/**
 * Digests on the recorded data: the sections plugins contribute, in order, under a summary that
 * states only their numbers; configured schedules of kind "digest" post to their targets; fires
 * missed while the desk was down are reported, not replayed; /schedule pauses and resumes.
 */

const stores = storeFixtures('digest');
const desks: TestDesk[] = [];
afterEach(async () => {
  while (desks.length > 0) await desks.pop()?.kernel.stop();
});

const PLUGINS = [market, signals, regimes, risk, execution, digest];
const HOURLY = { name: 'hourly-digest', cron: '0 * * * *', kind: 'digest', targets: ['console:terminal'] };

async function desk(over: Record<string, unknown> = {}, opts: Parameters<typeof startDesk>[0] = {}): Promise<TestDesk> {
  const d = await startDesk({ plugins: PLUGINS, config: testConfig({ market: { dir: sharedDataDir() }, trading: { pollMs: 0 }, ...over }), ...opts });
  desks.push(d);
  return d;
}

function terminal(d: TestDesk): { printed: () => string } {
  const out = new PassThrough();
  let printed = '';
  out.on('data', (b: Buffer) => (printed += b.toString()));
  void d.kernel.attach(new ConsoleAdapter(d.kernel, { input: new PassThrough(), output: out, interactive: false, userId: 'ann', imageDir: stores.tempDir() }));
  return { printed: () => printed };
}

describe('digests', () => {
  it('/digest composes every section in order under a summary of their numbers, with a chart', async () => {
    const d = await desk();
    const r = await d.raw('vic', '/digest');
    const text = await d.say('vic', '/digest now');
    const order = ['Desk digest', ' UTC: BTC/USDT ', 'Market', 'Signals (balanced, 1h)', 'Regimes (1h)', 'PnL\n  realised in period', 'Risk limits', 'No halts in this period'];
    let at = -1;
    for (const heading of order) {
      const i = text.indexOf(heading);
      expect(i, heading).toBeGreaterThan(at);
      at = i;
    }
    expect(r?.blocks.some((b) => b.type === 'image' && b.alt.startsWith('BTC/USDT 1h'))).toBe(true);
    // without an LLM key the summary is the template of the sections' facts: the ticker's own 24 h change
    const t = await d.kernel.market.ticker({ symbol: 'BTC/USDT' });
    expect(text).toContain(`BTC/USDT ${(t.change24hPct ?? NaN).toFixed(2)}%`);
  });

  it('a schedule of kind digest posts to its targets; /schedule lists it', async () => {
    const d = await desk({ schedules: [HOURLY] });
    const t = terminal(d);
    expect(await d.say('vic', '/schedule')).toMatch(/hourly-digest\s+digest\s+0 \* \* \* \*\s+desk\s+console:terminal\s+on/);
    expect(await d.kernel.jobs.runNow('hourly-digest')).toBe(true);
    // its first run has no previous one: it covers the default period, not the seconds since start-up
    await vi.waitFor(() => expect(t.printed()).toContain('[console:terminal] Desk digest — 2026-11-26 09:00 UTC to 2026-11-27 09:00 UTC'));
    expect((await d.kernel.audit.tail(20)).some((a) => a.kind === 'digest' && a.schedule === 'hourly-digest')).toBe(true);
  });

  it('reports fires missed while the desk was down on the next run, without replaying them', async () => {
    const store = await stores.open('memory');
    const t0 = Date.UTC(2026, 10, 27, 9, 30);
    const d1 = await startDesk({ plugins: PLUGINS, config: testConfig({ market: { dir: sharedDataDir() }, trading: { pollMs: 0 }, schedules: [HOURLY] }), store, clockAt: t0 });
    await d1.kernel.stop();
    // down from 09:30 to 12:45: the 10:00, 11:00 and 12:00 digests never ran
    const d2 = await startDesk({ plugins: PLUGINS, config: testConfig({ market: { dir: sharedDataDir() }, trading: { pollMs: 0 }, schedules: [HOURLY] }), store, clockAt: t0 + 3 * 3_600_000 + 15 * 60_000 });
    desks.push(d2);
    const t = terminal(d2);
    await d2.kernel.jobs.runNow('hourly-digest');
    await vi.waitFor(() => expect(t.printed()).toContain('Missed 3 scheduled runs while the desk was down (2026-11-27 10:00 UTC to 2026-11-27 12:00 UTC); not replayed'));
    expect(t.printed().match(/Desk digest/g)).toHaveLength(1);
  });

  it('/schedule pause and resume are for admins, audited, and the pause survives a restart', async () => {
    const store = await stores.open('memory');
    const d1 = await desk({ schedules: [HOURLY] }, { store });
    expect(await d1.say('vic', '/schedule pause hourly-digest')).toContain('Not allowed: /schedule pause');
    expect(await d1.say('ann', '/schedule pause hourly-digest')).toContain('Schedule hourly-digest paused');
    expect(await d1.say('ann', '/schedule pause nightly')).toContain('No schedule "nightly"');
    const audit = await d1.kernel.audit.tail(30);
    expect(audit.filter((a) => a.kind === 'schedule').map((a) => [a.actor, a.allowed])).toEqual([
      ['vic', false],
      ['ann', true],
      ['ann', true],
    ]);
    await d1.kernel.stop();
    desks.splice(desks.indexOf(d1), 1);
    const d2 = await desk({ schedules: [HOURLY] }, { store });
    expect(await d2.say('vic', '/schedule')).toMatch(/hourly-digest.*PAUSED/);
    expect(await d2.say('ann', '/schedule resume hourly-digest')).toContain('resumed');
    expect(await d2.say('vic', '/schedule')).toMatch(/hourly-digest.*\son\s/);
  });

  it('a digest of more symbols than the summary prompt takes (30) leads with the 30 biggest movers', async () => {
    const bases = readdirSync(sharedDataDir())
      .map((f) => /^binance_([A-Z0-9]+)-USDT_1h\.csv$/.exec(f)?.[1])
      .filter((b): b is string => b !== undefined)
      .sort()
      .slice(0, 35);
    const d = await desk({ plugins: { settings: { digest: { symbols: bases.map((b) => `${b}/USDT`), chart: { enabled: false } } } } });
    const out = await d.say('vic', '/digest');
    expect(out).not.toContain('internal error');
    const summary = out.split('\n')[1] ?? '';
    expect(summary.match(/[A-Z0-9]+\/USDT [+-]?[\d.]+%/g), summary).toHaveLength(30);
  });

  it('refuses to start when a schedule names a kind no plugin provides', async () => {
    await expect(startDesk({ plugins: [market], config: testConfig({ schedules: [HOURLY] }) })).rejects.toThrow(
      'schedule hourly-digest: no loaded plugin provides kind "digest" (no plugin provides any)',
    );
  });
});

describe('schedules across a daylight-saving change', () => {
  it('a daily 08:00 Europe/London digest missed over the March change counts 08:00 UTC before it and 07:00 UTC after', async () => {
    const store = await stores.open('memory');
    const daily = { name: 'daily', cron: '0 8 * * *', timezone: 'Europe/London', kind: 'digest', targets: ['console:terminal'] };
    const cfg = () => testConfig({ market: { dir: sharedDataDir() }, trading: { pollMs: 0 }, schedules: [daily] });
    // up on Friday 27 March 2026 at 09:00 UTC, then down until Tuesday 31 March 09:00 UTC (clocks went forward on Sunday the 29th)
    const d1 = await startDesk({ plugins: PLUGINS, config: cfg(), store, clockAt: Date.UTC(2026, 2, 27, 9) });
    await d1.kernel.stop();
    const d2 = await startDesk({ plugins: PLUGINS, config: cfg(), store, clockAt: Date.UTC(2026, 2, 31, 9) });
    desks.push(d2);
    const t = terminal(d2);
    await d2.kernel.jobs.runNow('daily');
    // 28th 08:00 GMT = 08:00 UTC; 29th, 30th, 31st 08:00 BST = 07:00 UTC
    await vi.waitFor(() => expect(t.printed()).toContain('Missed 4 scheduled runs while the desk was down (2026-03-28 08:00 UTC to 2026-03-31 07:00 UTC)'));
  });
});
