import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import execution from '../../plugins/execution/index.js';
import risk from '../../plugins/risk/index.js';
import type { ChatAdapter } from '../../src/kernel/adapters.js';
import type { Channel } from '../../src/kernel/auth/principal.js';
import { ManualClock } from '../../src/kernel/clock.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { defineCommand, definePlugin, reply, type Reply } from '../../src/kernel/index.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { startFakeExchange, type FakeExchange } from '../fakes/exchange/index.js';
import { recordedCandles, sharedDataDir } from '../helpers/recorded.js';
import { startDesk, testConfig, type TestDesk } from '../helpers/kernel.js';
import { PrivateRedis } from '../helpers/private-redis.js';
import { storeFixtures } from '../helpers/stores.js';

/**
 * The ops server on a real kernel: /metrics after commands, orders, a halt and alerts; /healthz;
 * /readyz against a private Redis that is stopped and started again, and against chat adapters
 * that are down or never attached; exchange errors and circuit states from the live market source
 * on the fake exchange. Every desk binds port 0.
 */

const stores = storeFixtures('ops');
const desks: TestDesk[] = [];
afterEach(async () => {
  while (desks.length > 0) await desks.pop()?.kernel.stop();
});

/** A chat platform for tests: connected or not, failing to start when told, recording posts. */
class TestChat implements ChatAdapter {
  readonly posts: Array<{ channel: Channel; reply: Reply }> = [];
  constructor(
    readonly platform: string,
    readonly state: { connected: boolean; failStart?: string },
  ) {}
  async start(): Promise<void> {
    if (this.state.failStart !== undefined) throw new Error(this.state.failStart);
  }
  async stop(): Promise<void> {}
  async post(channel: Channel, r: Reply): Promise<void> {
    this.posts.push({ channel, reply: r });
  }
  health(): { connected: boolean; detail: string } {
    return { connected: this.state.connected, detail: this.state.connected ? 'up' : 'gateway closed' };
  }
}

function deskConfig(over: Record<string, unknown> = {}) {
  const base = testConfig();
  return testConfig({
    market: { dir: sharedDataDir() },
    people: { ...base.people, rick: { name: 'Rick Risk', roles: ['risk'], ids: { console: 'rick' } } },
    roles: {
      viewer: ['market:read'],
      trader: ['market:read', 'trade:execute', 'trade:read'],
      risk: ['market:read', 'trade:read', 'risk:read', 'risk:halt', 'risk:resume'],
      admin: ['*'],
    },
    trading: { pollMs: 0, notify: ['testchat:desk'] },
    ops: { enabled: true, port: 0 },
    ...over,
  });
}

async function desk(opts: Parameters<typeof startDesk>[0] = {}): Promise<TestDesk> {
  const d = await startDesk({ plugins: [risk, execution], config: deskConfig(), ...opts });
  desks.push(d);
  return d;
}

interface Got {
  status: number;
  type: string;
  text: string;
  json: { status?: string; failing?: string[]; checks?: Record<string, { ok: boolean; detail: string }> };
}

async function get(k: Kernel, path: string, method = 'GET'): Promise<Got> {
  const ops = k.ops;
  if (ops === undefined) throw new Error('no ops server');
  const res = await fetch(`${ops.url}${path}`, { method });
  const text = await res.text();
  let json: Got['json'] = {};
  try {
    json = JSON.parse(text) as Got['json'];
  } catch {
    // /metrics is text
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json };
}

/** the value on the line `series value` of a scrape, or undefined */
function value(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/metrics', () => {
  it('counts commands by outcome, orders by state, the halt and its alert, LLM calls; the process metrics come along', async () => {
    const d = await desk();
    const chat = new TestChat('testchat', { connected: true });
    await d.kernel.attach(chat);

    await d.say('ann', '/help');
    await d.say('ann', '/frobnicate');
    expect(await d.say('vic', '/buy btc 0.01')).toContain('Not allowed');
    await d.say('tom', '/buy');
    expect(await d.say('tom', '/buy BTC/USDT 0.01')).toContain('Confirm');
    expect(await d.say('tom', 'yes')).toContain('Filled');
    expect(await d.say('rick', '/halt drill')).toContain('HALTED by rick');
    await vi.waitFor(() => expect(chat.posts.length).toBe(1)); // the halt alert went to trading.notify
    d.kernel.metrics.recordLlmCall({ tokensIn: 200, tokensOut: 50, costUsd: 0.00006, outcome: 'accepted' });

    const m = await get(d.kernel, '/metrics');
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const t = m.text;
    expect(value(t, 'deskbot_commands_total{command="help",outcome="ok"}')).toBe(1);
    expect(value(t, 'deskbot_commands_total{command="(unknown)",outcome="unknown"}')).toBe(1);
    expect(value(t, 'deskbot_commands_total{command="buy",outcome="denied"}')).toBe(1);
    expect(value(t, 'deskbot_commands_total{command="buy",outcome="usage"}')).toBe(1);
    expect(value(t, 'deskbot_commands_total{command="buy",outcome="ok"}')).toBe(1); // run once, after the confirm
    expect(value(t, 'deskbot_commands_total{command="confirm",outcome="ok"}')).toBe(1);
    expect(value(t, 'deskbot_commands_total{command="halt",outcome="ok"}')).toBe(1);
    expect(value(t, 'deskbot_command_duration_seconds_count{command="buy",outcome="ok"}')).toBe(1);
    expect(t).toMatch(/^deskbot_command_duration_seconds_bucket\{le="\+Inf",command="halt",outcome="ok"\} 1$/m);
    for (const state of ['requested', 'checked', 'sent', 'filled']) {
      expect(value(t, `deskbot_orders_total{state="${state}",broker="paper"}`), state).toBe(1);
    }
    expect(value(t, 'deskbot_halts_total')).toBe(1);
    expect(value(t, 'deskbot_halted')).toBe(1);
    expect(value(t, 'deskbot_alerts_total{kind="halt",outcome="sent"}')).toBe(1);
    expect(value(t, 'deskbot_llm_calls_total{outcome="accepted"}')).toBe(1);
    expect(value(t, 'deskbot_llm_tokens_total{direction="in"}')).toBe(200);
    expect(value(t, 'deskbot_llm_tokens_total{direction="out"}')).toBe(50);
    expect(value(t, 'deskbot_adapter_connected{platform="testchat"}')).toBe(1);
    expect(value(t, 'deskbot_adapter_connected{platform="console"}')).toBeUndefined();
    expect(t).toMatch(/^deskbot_info\{instance="test",version="\d+\.\d+\.\d+"\} 1$/m);
    expect(t).toMatch(/^deskbot_process_resident_memory_bytes \d+$/m);
    expect(t).toContain('# TYPE deskbot_nodejs_eventloop_lag_seconds gauge');

    // an order refused by the halt, the same halt alert again (dropped), then a resume by someone else
    expect(await d.say('tom', '/buy BTC/USDT 0.01')).toContain('Confirm');
    expect(await d.say('tom', 'yes')).toContain('halted');
    await d.kernel.alerts.raise({ kind: 'halt', severity: 'critical', title: 'again', dedupeKey: 'x' });
    await d.kernel.alerts.raise({ kind: 'halt', severity: 'critical', title: 'again', dedupeKey: 'x' });
    expect(await d.say('ann', '/resume')).toMatch(/resumed/i);
    const after = (await get(d.kernel, '/metrics')).text;
    expect(value(after, 'deskbot_orders_total{state="rejected",broker="paper"}')).toBe(1);
    expect(value(after, 'deskbot_alerts_total{kind="halt",outcome="duplicate"}')).toBe(1);
    expect(value(after, 'deskbot_halted')).toBe(0);
    expect(value(after, 'deskbot_halts_total')).toBe(1);
  });

  it('two kernels in one process keep their own counts on their own ports', async () => {
    const a = await desk();
    const b = await desk();
    expect(a.kernel.ops?.port).not.toBe(b.kernel.ops?.port);
    await a.say('ann', '/whoami');
    await a.say('ann', '/whoami');
    await b.say('ann', '/whoami');
    expect(value((await get(a.kernel, '/metrics')).text, 'deskbot_commands_total{command="whoami",outcome="ok"}')).toBe(2);
    expect(value((await get(b.kernel, '/metrics')).text, 'deskbot_commands_total{command="whoami",outcome="ok"}')).toBe(1);
  });
});

describe('/healthz and the routes', () => {
  it('/healthz says alive; other paths are 404, other methods 405; HEAD has no body', async () => {
    const d = await desk();
    const h = await get(d.kernel, '/healthz');
    expect(h.status).toBe(200);
    expect(h.type).toMatch(/^application\/json/);
    expect(h.json).toEqual({ status: 'alive' });
    expect((await get(d.kernel, '/healthz?probe=1')).status).toBe(200);
    expect((await get(d.kernel, '/')).status).toBe(404);
    expect((await get(d.kernel, '/metrics', 'POST')).status).toBe(405);
    const head = await get(d.kernel, '/readyz', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('a port that is taken is logged and the desk runs without the server; stop closes the port', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const d = await desk({ config: deskConfig({ ops: { enabled: true, port } }) });
      expect(d.kernel.ops).toBeUndefined();
      expect(await d.say('ann', '/whoami')).toContain('ann');
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
    const d = await desk();
    const url = d.kernel.ops?.url ?? '';
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await d.kernel.stop();
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('ops.enabled false (the schema default): no server', async () => {
    const d = await desk({ config: deskConfig({ ops: {} }) });
    expect(d.kernel.ops).toBeUndefined();
  });
});

describe('/readyz', () => {
  it('is ready with the store, the recorded market and connected adapters; a down or unattached adapter makes it unready, by name', async () => {
    const d = await desk();
    const ok = await get(d.kernel, '/readyz');
    expect(ok.status).toBe(200);
    expect(ok.json.status).toBe('ready');
    expect(ok.json.failing).toEqual([]);
    expect(ok.json.checks?.['store']?.ok).toBe(true);
    expect(ok.json.checks?.['market']).toEqual({ ok: true, detail: expect.stringMatching(/^binance: \d+ markets \(replay\)$/) });

    const flaky = new TestChat('flaky', { connected: true });
    await d.kernel.attach(flaky);
    expect((await get(d.kernel, '/readyz')).status).toBe(200);
    flaky.state.connected = false;
    const down = await get(d.kernel, '/readyz');
    expect(down.status).toBe(503);
    expect(down.json).toMatchObject({ status: 'unready', failing: ['adapter:flaky'] });
    expect(down.json.checks?.['adapter:flaky']).toEqual({ ok: false, detail: 'gateway closed' });
    flaky.state.connected = true;

    await expect(d.kernel.attach(new TestChat('broken', { connected: false, failStart: 'token revoked (401)' }))).rejects.toThrow('token revoked');
    const unattached = await get(d.kernel, '/readyz');
    expect(unattached.status).toBe(503);
    expect(unattached.json.failing).toEqual(['adapter:broken']);
    expect(unattached.json.checks?.['adapter:broken']?.detail).toBe('not attached: token revoked (401)');
    expect(value((await get(d.kernel, '/metrics')).text, 'deskbot_adapter_connected{platform="broken"}')).toBe(0);
    // a later attach that works clears it
    await d.kernel.attach(new TestChat('broken', { connected: true }));
    expect((await get(d.kernel, '/readyz')).status).toBe(200);
  });

  it('goes unready naming "store" when its Redis stops, and ready again when Redis is back', { timeout: 60_000 }, async () => {
    const redis = await PrivateRedis.start({ persistent: false });
    stores.cleanups.push(() => redis.destroy()); // runs after the store is closed
    const store = await stores.open('redis', { redisUrl: redis.url });
    const d = await desk({ store });
    expect((await get(d.kernel, '/readyz')).status).toBe(200);

    await redis.stop();
    const down = await get(d.kernel, '/readyz');
    expect(down.status).toBe(503);
    expect(down.json.failing).toContain('store');
    expect(down.json.failing).not.toContain('market'); // recorded data does not need Redis
    expect(down.json.checks?.['store']?.ok).toBe(false);
    // the halt state cannot be read: the gauge says halted, as the gateway would act
    expect(value((await get(d.kernel, '/metrics')).text, 'deskbot_halted')).toBe(1);

    await redis.start();
    // the client reconnects with a backoff of at most 2 s
    await vi.waitFor(
      async () => {
        const r = await get(d.kernel, '/readyz');
        expect(r.status, JSON.stringify(r.json)).toBe(200);
      },
      { timeout: 20_000, interval: 250 },
    );
    expect(value((await get(d.kernel, '/metrics')).text, 'deskbot_halted')).toBe(0);
  });
});

describe('request ids in the logs', () => {
  it("a handler's ctx.log lines carry req (the message id), the plugin and the command; a failure's line carries req too", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const plugin = definePlugin({
      name: 'echo',
      version: '1.0.0',
      setup(ctx) {
        ctx.command(
          defineCommand({
            name: 'echo',
            summary: 'Echo',
            permission: null,
            handler: (c) => {
              c.log.info('echo handling');
              return reply.text('echo');
            },
          }),
        );
        ctx.command(
          defineCommand({
            name: 'crash',
            summary: 'Crash',
            permission: null,
            handler: () => {
              throw new Error('boom');
            },
          }),
        );
      },
    });
    const kernel = await Kernel.start({
      config: testConfig(),
      secrets: readSecrets({}),
      logger: pino({ level: 'info' }, sink),
      clock: new ManualClock(Date.UTC(2026, 10, 27, 9)),
      plugins: [plugin],
      discover: false,
    });
    try {
      await kernel.handle({ platform: 'console', id: 'msg-echo-1', userId: 'ann', channelId: 'terminal', text: '/echo' });
      await kernel.handle({ platform: 'console', id: 'msg-crash-1', userId: 'ann', channelId: 'terminal', text: '/crash' });
    } finally {
      await kernel.stop();
    }
    expect(lines.find((l) => l['msg'] === 'echo handling')).toMatchObject({ req: 'msg-echo-1', plugin: 'echo', command: 'echo', part: 'dispatch' });
    expect(lines.find((l) => l['msg'] === 'command failed')).toMatchObject({ req: 'msg-crash-1', command: 'crash', plugin: 'echo' });
  });
});

describe('exchange errors and circuit states (live market on the fake exchange)', () => {
  let fake: FakeExchange;
  beforeAll(async () => {
    fake = await startFakeExchange();
  });
  afterAll(async () => fake.close());

  it('counts failed operations by kind and shows the circuit open, half-open after the cool-down, closed after a success', async () => {
    const btc5m = recordedCandles('binance', 'BTC/USDT', '5m');
    const fakeNow = (btc5m.time[btc5m.length - 1] as number) + 5 * 60_000;
    const d = await startDesk({
      clockAt: fakeNow,
      config: testConfig({
        market: { source: 'live', exchanges: ['binance'], urls: { binance: fake.url }, timeoutMs: 3000, retries: 0, breaker: { failures: 2, cooldownMs: 30_000 } },
        ops: { enabled: true, port: 0 },
      }),
    });
    desks.push(d);
    const scrape = async (): Promise<string> => (await get(d.kernel, '/metrics')).text;
    expect(value(await scrape(), 'deskbot_exchange_circuit_state{exchange="binance"}')).toBe(0);

    const ready = await get(d.kernel, '/readyz'); // loads the markets: the faults below hit only the ticker
    expect(ready.json.checks?.['market']?.detail).toMatch(/^binance: \d+ markets \(live\)$/);
    fake.inject({ path: '/api/v3/ticker/24hr', times: 2, fault: { kind: 'status', status: 503 } });
    for (let i = 0; i < 2; i++) await expect(d.kernel.market.ticker({ symbol: 'BTC/USDT' })).rejects.toThrow(/unavailable/);
    await expect(d.kernel.market.ticker({ symbol: 'BTC/USDT' })).rejects.toThrow(/circuit open/);
    let t = await scrape();
    expect(value(t, 'deskbot_exchange_errors_total{exchange="binance",kind="unavailable"}')).toBe(2);
    expect(value(t, 'deskbot_exchange_errors_total{exchange="binance",kind="circuit-open"}')).toBe(1);
    expect(value(t, 'deskbot_exchange_circuit_state{exchange="binance"}')).toBe(2);

    d.clock.advance(30_000);
    expect(value(await scrape(), 'deskbot_exchange_circuit_state{exchange="binance"}')).toBe(1);
    await d.kernel.market.ticker({ symbol: 'BTC/USDT' });
    t = await scrape();
    expect(value(t, 'deskbot_exchange_circuit_state{exchange="binance"}')).toBe(0);
    expect(value(t, 'deskbot_exchange_errors_total{exchange="binance",kind="circuit-open"}')).toBe(1);
  });
});
