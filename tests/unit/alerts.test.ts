import Keyv from 'keyv';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AlertRouter, alertsConfigSchema, type Alert } from '../../src/kernel/alerts/router.js';
import { ManualClock } from '../../src/kernel/clock.js';
import type { Reply } from '../../src/kernel/reply.js';

function router(config: Record<string, unknown>, opts: { down?: string[]; timezone?: string; at?: number } = {}) {
  const posts: Array<{ channel: string; text: string }> = [];
  const audits: Array<Record<string, unknown>> = [];
  const clock = new ManualClock(opts.at ?? Date.UTC(2026, 10, 27, 12, 0));
  const r = new AlertRouter({
    config: alertsConfigSchema.parse(config),
    timezone: opts.timezone ?? 'UTC',
    store: new Keyv(),
    clock,
    logger: pino({ level: 'silent' }),
    post: async (channel: string, reply: Reply) => {
      if (opts.down?.includes(channel)) return { ok: false, error: `${channel} is down` };
      posts.push({ channel, text: reply.blocks.map((b) => (b.type === 'text' ? b.text : b.type)).join(' | ') });
      return { ok: true };
    },
    audit: (e) => void audits.push(e),
  });
  return { r, posts, audits, clock };
}

const whale = (n: number, over: Partial<Alert> = {}): Alert => ({ kind: 'whale', severity: 'warning', symbol: 'BTC/USDT', title: `whale ${n}`, ...over });

describe('the alert router', () => {
  it('sends an alert to every channel whose rule matches its kind, severity and symbol', async () => {
    const { r, posts } = router({
      rules: [
        { channel: 'slack:C0DESK', kinds: ['whale', 'risk'], minSeverity: 'warning' },
        { channel: 'telegram:-100', kinds: ['*'], minSeverity: 'critical' },
        { channel: 'discord:42', kinds: ['whale'], minSeverity: 'info', symbols: ['ETH/USDT'] },
      ],
    });
    const out = await r.raise(whale(1));
    expect(out.delivered).toEqual(['slack:C0DESK']);
    expect(posts).toEqual([{ channel: 'slack:C0DESK', text: '⚠ [whale BTC/USDT] whale 1' }]);
    expect((await r.raise({ kind: 'risk', severity: 'critical', title: 'daily-loss breached' })).delivered).toEqual(['slack:C0DESK', 'telegram:-100']);
    expect((await r.raise(whale(2, { symbol: 'ETH/USDT', severity: 'info' }))).delivered).toEqual(['discord:42']);
  });

  it('drops the same alert inside the dedupe window, and lets it through after', async () => {
    const { r, posts, clock } = router({ rules: [{ channel: 'slack:C0DESK' }], dedupeSeconds: 300 });
    await r.raise(whale(1));
    expect((await r.raise(whale(1))).held).toEqual([{ channel: '*', why: 'duplicate within the dedupe window' }]);
    clock.advance(300_000);
    await r.raise(whale(1));
    expect(posts).toHaveLength(2);
  });

  it('throttles a channel and summarises the overflow: "and 14 more whale alerts in the last 5 min"', async () => {
    const { r, posts } = router({ rules: [{ channel: 'slack:C0DESK' }], throttle: { max: 5, windowSeconds: 300 } });
    for (let i = 0; i < 19; i++) await r.raise(whale(i));
    expect(posts).toHaveLength(5);
    await r.raise({ kind: 'halt', severity: 'critical', title: 'HALTED' }); // critical is never throttled
    expect(posts).toHaveLength(6);
    await r.flushOverflow();
    expect(posts.at(-1)?.text).toBe('…and 14 more whale alerts in the last 5 min (throttled: at most 5 per 5 min here). /alerts lists them.');
  });

  it('an alert storm of 1,000 is bounded per channel, and the overflow summary counts every held alert by kind', async () => {
    const { r, posts } = router({ rules: [{ channel: 'slack:C0DESK' }, { channel: 'telegram:-100', kinds: ['regime'] }], throttle: { max: 5, windowSeconds: 300 } });
    for (let i = 0; i < 1000; i++) await r.raise(i % 4 === 0 ? { kind: 'regime', severity: 'warning', title: `regime ${i}` } : whale(i));
    // the same storm again: duplicates inside the window are dropped before the throttle
    for (let i = 0; i < 1000; i++) await r.raise(i % 4 === 0 ? { kind: 'regime', severity: 'warning', title: `regime ${i}` } : whale(i));
    expect(posts.filter((p) => p.channel === 'slack:C0DESK')).toHaveLength(5);
    expect(posts.filter((p) => p.channel === 'telegram:-100')).toHaveLength(5);
    await r.flushOverflow();
    const desk = posts.filter((p) => p.channel === 'slack:C0DESK').at(-1)?.text ?? '';
    // 1,000 = 750 whale + 250 regime alerts; whatever the five sent were, the summary counts all the rest
    const sentKinds = posts.filter((p) => p.channel === 'slack:C0DESK').slice(0, 5).map((p) => (p.text.includes('[regime') ? 'regime' : 'whale'));
    const heldWhale = 750 - sentKinds.filter((k) => k === 'whale').length;
    const heldRegime = 250 - sentKinds.filter((k) => k === 'regime').length;
    expect(desk).toBe(`…and ${heldWhale} more whale alerts, ${heldRegime} more regime alerts in the last 5 min (throttled: at most 5 per 5 min here). /alerts lists them.`);
    expect(posts.filter((p) => p.channel === 'telegram:-100').at(-1)?.text).toBe('…and 245 more regime alerts in the last 5 min (throttled: at most 5 per 5 min here). /alerts lists them.');
    expect(posts).toHaveLength(12);
  });

  it('keeps quiet hours (a window across midnight, in the desk time zone) except for critical alerts', async () => {
    // 23:30 in London in November (UTC+0)
    const { r, posts } = router({ rules: [{ channel: 'slack:C0DESK' }], quietHours: { from: '22:00', to: '07:00' } }, { timezone: 'Europe/London', at: Date.UTC(2026, 10, 27, 23, 30) });
    expect((await r.raise(whale(1))).held).toEqual([{ channel: 'slack:C0DESK', why: 'quiet hours' }]);
    expect((await r.raise({ kind: 'risk', severity: 'critical', title: 'drawdown breached' })).delivered).toEqual(['slack:C0DESK']);
    expect(posts).toHaveLength(1);
  });

  it('honours a mute of a kind or a symbol in one channel until it ends; critical alerts still come through', async () => {
    const { r, clock } = router({ rules: [{ channel: 'slack:C0DESK' }, { channel: 'slack:C0OTHER' }] });
    await r.mute('slack:C0DESK', 'whale', 3_600_000, 'tom');
    const muted = await r.raise(whale(1));
    expect(muted.delivered).toEqual(['slack:C0OTHER']);
    expect(muted.held[0]?.why).toMatch(/^muted \(whale\) until 13:00 UTC by tom$/);
    await r.mute('slack:C0OTHER', 'BTC/USDT', 60_000, 'tess');
    expect((await r.raise(whale(2))).delivered).toEqual([]);
    expect((await r.raise(whale(3, { severity: 'critical' }))).delivered).toEqual(['slack:C0DESK', 'slack:C0OTHER']);
    clock.advance(3_600_000);
    expect((await r.raise(whale(4))).delivered).toEqual(['slack:C0DESK', 'slack:C0OTHER']);
  });

  it('also sends to the channels an alert names (a watchlist), and a channel that is down does not stop the others', async () => {
    const { r, audits } = router({ rules: [{ channel: 'slack:C0DESK' }] }, { down: ['slack:C0DESK'] });
    const out = await r.raise(whale(1, { channels: ['telegram:-100', 'discord:42'] }));
    expect(out.delivered).toEqual(['telegram:-100', 'discord:42']);
    expect(out.held).toEqual([{ channel: 'slack:C0DESK', why: 'not delivered: slack:C0DESK is down' }]);
    expect(audits.at(-1)).toMatchObject({ kind: 'alert', alert: 'whale', delivered: ['telegram:-100', 'discord:42'], held: 1 });
    expect(r.latest(1)[0]?.title).toBe('whale 1');
  });
});
