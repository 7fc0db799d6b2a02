import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { arg, defineCommand, definePlugin, reply, type PluginManifest } from '../../src/kernel/index.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';

/** A plugin with one command per guard kind, recording what actually ran. */
function tradingPlugin(ran: string[]): PluginManifest {
  return definePlugin({
    name: 'trading',
    version: '1.0.0',
    setup(ctx) {
      ctx.command(
        defineCommand({
          name: 'buy',
          summary: 'Buy',
          args: { symbol: arg.symbol(), amount: arg.quantity({ units: ['usdt'] }) },
          permission: 'trade:execute',
          guard: 'confirm',
          preview: (c) => reply.text(`notional ${c.args.amount.value} USDT`),
          handler: (c) => {
            ran.push(`buy ${c.args.symbol} ${c.args.amount.value} by ${c.principal.person} msg ${c.messageId}`);
            return reply.text('bought', 'ok');
          },
        }),
      );
      ctx.command(
        defineCommand({
          name: 'unlock',
          summary: 'Unlock something (a four-eyes example)',
          permission: 'trade:execute',
          guard: 'four-eyes',
          handler: (c) => {
            ran.push(`unlock by ${c.principal.person} approved by ${c.approvedBy?.person}`);
            return reply.text('unlocked');
          },
        }),
      );
      ctx.command(
        defineCommand({
          name: 'boom',
          summary: 'Fails',
          permission: null,
          handler: () => {
            throw new Error('secret internals at /srv/app.ts:12');
          },
        }),
      );
      ctx.command(
        defineCommand({
          name: 'nope',
          summary: 'Refuses',
          permission: null,
          handler: (c) => c.fail('no liquidity in BTC/XYZ'),
        }),
      );
    },
  });
}

let desk: TestDesk;
let ran: string[];
afterEach(async () => {
  await desk.kernel.stop();
});

async function open(): Promise<void> {
  ran = [];
  desk = await startDesk({ plugins: [tradingPlugin(ran)] });
}

async function auditLines(): Promise<Array<Record<string, unknown>>> {
  await desk.kernel.audit.flush();
  const file = path.join(desk.kernel.dataDir, 'audit.jsonl');
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('dispatch', () => {
  it('unknown commands get a suggestion', async () => {
    await open();
    expect(await desk.say('ann', '/stauts')).toContain('Unknown command /stauts.');
    expect(await desk.say('ann', '/hlep')).toBe('✗ Unknown command /hlep. Did you mean /help?');
    expect(await desk.say('ann', '/nonsense')).toBe('✗ Unknown command /nonsense. Try /help for the list of commands.');
  });

  it('usage errors say what was wrong and show usage', async () => {
    await open();
    expect(await desk.say('tom', '/buy btc 100')).toBe(
      '✗ /buy: amount: expected a unit after 100 (one of usdt)\nusage: /buy <symbol> <amount>  (/help buy for more)',
    );
    expect(ran).toEqual([]);
  });

  it('strips Telegram @botname suffixes and accepts aliases without a slash', async () => {
    await open();
    expect(await desk.say('ann', '/whoami@deskbot_bot')).toContain('ann (Ann Admin)');
    expect(await desk.say('ann', 'start')).toContain('Commands'); // alias of help
  });

  it('refuses without the permission, and audits the decision', async () => {
    await open();
    expect(await desk.say('vic', '/buy btc 100usdt')).toBe('✗ Not allowed: /buy — trade:execute is not granted to vic (roles: viewer).');
    const decision = (await auditLines()).find((l) => l.kind === 'decision' && l.command === 'buy');
    expect(decision).toMatchObject({ actor: 'vic', allowed: false, permission: 'trade:execute', args: 'btc 100usdt' });
  });

  it('tells an unknown user their platform id so an admin can add them', async () => {
    await open();
    const out = await desk.say('x', '/buy btc 1usdt', { platform: 'telegram', userId: '4242' });
    expect(out).toContain('telegram user 4242');
    expect(out).toContain('people.<you>.ids.telegram: "4242"');
    // help and whoami still work
    expect(await desk.say('x', '/whoami', { platform: 'telegram', userId: '4242' })).toContain('unknown');
  });

  it('a handler crash becomes a reference, never a stack trace or its message', async () => {
    await open();
    const out = await desk.say('ann', '/boom');
    expect(out).toMatch(/^✗ \/boom failed with an internal error \(ref \w+\)/);
    expect(out).not.toContain('secret internals');
    expect(await desk.say('ann', '/nope')).toBe('✗ no liquidity in BTC/XYZ');
  });

  it('handles a redelivered message once', async () => {
    await open();
    const msg = { platform: 'slack', id: 'Ev123', userId: 'U_TOM', channelId: 'C1', text: '/whoami' };
    expect(await desk.kernel.handle(msg)).not.toBeNull();
    expect(await desk.kernel.handle(msg)).toBeNull();
    expect(await desk.kernel.handle({ ...msg, id: 'Ev124' })).not.toBeNull();
  });
});

describe('confirm step (dangerous commands)', () => {
  it('runs only after the same person confirms', async () => {
    await open();
    const ask = await desk.say('tom', '/buy btc 100usdt', { id: 'm-1' });
    expect(ask).toMatch(/Confirm \/buy btc 100usdt\? Reply \/confirm (\w{6}) \(or yes\) within 60 s/);
    expect(ask).toContain('notional 100 USDT');
    expect(ask).toMatch(/\[Confirm: \/confirm \w{6}\]/);
    expect(ran).toEqual([]);
    const token = /\/confirm (\w{6})/.exec(ask)?.[1] ?? '';

    expect(await desk.say('tess', `/confirm ${token}`)).toBe('✗ Only Tom Trader can confirm their /buy.');
    expect(ran).toEqual([]);
    expect(await desk.say('tom', `/confirm ${token}`)).toBe('✓ bought');
    // the handler sees the original message id: the idempotency key for the order
    expect(ran).toEqual(['buy BTC 100 by tom msg m-1']);
    expect(await desk.say('tom', `/confirm ${token}`)).toContain('Nothing to confirm');
    expect(ran).toHaveLength(1);
  });

  it('a bare "yes" confirms the latest request of that person', async () => {
    await open();
    await desk.say('tom', '/buy eth 5usdt');
    expect(await desk.say('tom', 'yes')).toBe('✓ bought');
    expect(ran).toEqual([expect.stringContaining('buy ETH 5 by tom')]);
  });

  it('expires after 60 s and does nothing', async () => {
    await open();
    const ask = await desk.say('tom', '/buy btc 1usdt');
    const token = /\/confirm (\w{6})/.exec(ask)?.[1] ?? '';
    desk.clock.advance(60_001);
    expect(await desk.say('tom', `/confirm ${token}`)).toContain('was not confirmed in time; nothing was done');
    expect(ran).toEqual([]);
  });

  it('"no" cancels', async () => {
    await open();
    await desk.say('tom', '/buy btc 1usdt');
    expect(await desk.say('tom', 'no')).toBe('/buy cancelled; nothing was done.');
    expect(await desk.say('tom', 'yes')).toContain('Nothing is waiting');
    expect(ran).toEqual([]);
  });
});

describe('four-eyes', () => {
  it('needs a different person who holds the permission', async () => {
    await open();
    const ask = await desk.say('tom', '/unlock');
    expect(ask).toContain('needs a second person with trade:execute');
    const token = /\/approve (\w{6})/.exec(ask)?.[1] ?? '';

    expect(await desk.say('tom', `/approve ${token}`)).toBe('✗ /unlock needs a different person to approve it (four eyes).');
    expect(await desk.say('vic', `/approve ${token}`)).toContain('Not allowed');
    expect(ran).toEqual([]);
    expect(await desk.say('tess', `/approve ${token}`)).toBe('unlocked');
    expect(ran).toEqual(['unlock by tom approved by tess']);
    expect(await desk.say('ann', `/approve ${token}`)).toContain('Nothing to approve');

    const approval = (await auditLines()).filter((l) => l.kind === 'approval');
    expect(approval.map((l) => [l.actor, l.allowed])).toEqual([
      ['tom', false],
      ['vic', false],
      ['tess', true],
    ]);
  });

  it('an approval after the window does nothing', async () => {
    await open();
    const token = /\/approve (\w{6})/.exec(await desk.say('tom', '/unlock'))?.[1] ?? '';
    desk.clock.advance(600_001);
    expect(await desk.say('tess', `/approve ${token}`)).toContain('expired before approval');
    expect(ran).toEqual([]);
  });
});

describe('help and whoami', () => {
  it('/help lists what this person may use and counts the rest', async () => {
    await open();
    const vic = await desk.say('vic', '/help');
    expect(vic).not.toContain('/buy');
    expect(vic).toContain('/whoami');
    expect(vic).toMatch(/\d+ more need permissions you do not have here/);
    expect(await desk.say('tom', '/help')).toContain('/buy <symbol> <amount>');
  });

  it('/help <command> shows usage, arguments, permission and guard', async () => {
    await open();
    const out = await desk.say('tom', '/help buy');
    expect(out).toContain('/buy <symbol> <amount>');
    expect(out).toMatch(/permission\s+trade:execute/);
    expect(out).toMatch(/guard\s+asks you to confirm/);
    expect(await desk.say('tom', '/help bye')).toContain('Did you mean /buy?');
  });

  it('/whoami shows identity, roles and what they allow here', async () => {
    await open();
    const out = await desk.say('tom', '/whoami');
    expect(out).toMatch(/person\s+tom \(Tom Trader\)/);
    expect(out).toMatch(/roles\s+trader/);
    expect(out).toMatch(/permissions\s+alerts:mute, market:read, trade:execute, trade:read/);
    expect(out).toContain('/buy');
  });

  it('/audit is for admins and shows the latest lines', async () => {
    await open();
    await desk.say('vic', '/whoami');
    expect(await desk.say('tom', '/audit 5')).toContain('Not allowed');
    const out = await desk.say('ann', '/audit 3');
    expect(out).toContain('Audit: last 3');
    expect(out).toMatch(/decision\s+tom/);
  });
});

describe('channel rules through dispatch', () => {
  it('trading only in the desk channel', async () => {
    ran = [];
    desk = await startDesk({
      plugins: [tradingPlugin(ran)],
      config: testConfig({ channelRules: [{ permissions: ['trade:*'], effect: 'only', channels: ['slack:C0DESK'] }] }),
    });
    const inLounge = await desk.say('x', '/buy btc 1usdt', { platform: 'slack', userId: 'U_TOM', channelId: 'C0LOUNGE' });
    expect(inLounge).toContain('only allowed in slack:C0DESK');
    const inDesk = await desk.say('x', '/buy btc 1usdt', { platform: 'slack', userId: 'U_TOM', channelId: 'C0DESK' });
    expect(inDesk).toContain('Confirm /buy');
  });
});

describe('kernel faults', () => {
  it('a store failure during dedupe is refused with a message, and nothing runs', async () => {
    await open();
    await desk.kernel.store.close();
    const out = await desk.say('tom', '/buy btc 1usdt');
    expect(out).toBe('✗ deskbot cannot reach its store right now; nothing was done (trading reads as halted until it is back). Try again in a moment.');
    expect(ran).toEqual([]);
  });
});
