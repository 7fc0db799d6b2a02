import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/kernel/clock.js';
import { DeskMetrics, UNKNOWN_COMMAND } from '../../src/ops/index.js';

/** The metrics object alone: labels, what is counted once, what is ignored, what reads at scrape time. */

function metrics(clock = new ManualClock(Date.UTC(2026, 0, 5, 9))): DeskMetrics {
  return new DeskMetrics({ instance: 'unit', version: '9.9.9', now: () => clock.now() });
}

async function text(m: DeskMetrics): Promise<string> {
  return (await m.scrape()).body;
}

/** the value on the line `name{labels} value`, or undefined when there is no such line */
function value(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('DeskMetrics', () => {
  it('counts commands by name and outcome, and times only the ones whose handler ran', async () => {
    const m = metrics();
    m.commandDone({ command: 'price', outcome: 'ok', ms: 12 });
    m.commandDone({ command: 'price', outcome: 'ok', ms: 300 });
    m.commandDone({ command: 'price', outcome: 'usage' });
    m.commandDone({ command: 'buy', outcome: 'denied' });
    const body = await text(m);
    expect(value(body, 'deskbot_commands_total{command="price",outcome="ok"}')).toBe(2);
    expect(value(body, 'deskbot_commands_total{command="price",outcome="usage"}')).toBe(1);
    expect(value(body, 'deskbot_commands_total{command="buy",outcome="denied"}')).toBe(1);
    expect(value(body, 'deskbot_command_duration_seconds_count{command="price",outcome="ok"}')).toBe(2);
    expect(value(body, 'deskbot_command_duration_seconds_sum{command="price",outcome="ok"}')).toBeCloseTo(0.312, 9);
    expect(value(body, 'deskbot_command_duration_seconds_bucket{le="0.025",command="price",outcome="ok"}')).toBe(1);
    expect(body).not.toContain('deskbot_command_duration_seconds_count{command="price",outcome="usage"}');
    expect(body).toContain('deskbot_info{instance="unit",version="9.9.9"} 1');
  });

  it('puts every unknown command under one label, so typing nonsense cannot grow the series', async () => {
    const m = metrics();
    for (const name of ['asdf', 'qwerty', 'zzz']) m.commandDone({ command: name, outcome: 'unknown' });
    const body = await text(m);
    expect(value(body, `deskbot_commands_total{command="${UNKNOWN_COMMAND}",outcome="unknown"}`)).toBe(3);
    expect(body).not.toContain('asdf');
  });

  it('counts an order once per state it enters; another fill in the same state is not a new state', async () => {
    const m = metrics();
    const h = (...states: string[]): Array<{ state: string }> => states.map((state) => ({ state }));
    m.orderUpdated({ state: 'requested', broker: 'paper', history: h('requested') });
    m.orderUpdated({ state: 'sent', broker: 'paper', history: h('requested', 'sent') });
    m.orderUpdated({ state: 'partially-filled', broker: 'paper', history: h('requested', 'sent', 'partially-filled') });
    m.orderUpdated({ state: 'partially-filled', broker: 'paper', history: h('requested', 'sent', 'partially-filled', 'partially-filled') });
    m.orderUpdated({ state: 'rejected', broker: 'live', history: h('requested', 'rejected') });
    const body = await text(m);
    expect(value(body, 'deskbot_orders_total{state="partially-filled",broker="paper"}')).toBe(1);
    expect(value(body, 'deskbot_orders_total{state="requested",broker="paper"}')).toBe(1);
    expect(value(body, 'deskbot_orders_total{state="rejected",broker="live"}')).toBe(1);
  });

  it('records LLM calls, and ignores numbers a counter cannot take instead of throwing into the caller', async () => {
    const m = metrics();
    m.recordLlmCall({ tokensIn: 120, tokensOut: 40, costUsd: 0.0012, outcome: 'accepted' });
    m.recordLlmCall({ tokensIn: 0, tokensOut: 0, costUsd: 0, outcome: 'fallback' });
    expect(() => m.recordLlmCall({ tokensIn: -5, tokensOut: Number.NaN, costUsd: Number.POSITIVE_INFINITY, outcome: 'rejected' })).not.toThrow();
    const body = await text(m);
    expect(value(body, 'deskbot_llm_calls_total{outcome="accepted"}')).toBe(1);
    expect(value(body, 'deskbot_llm_calls_total{outcome="fallback"}')).toBe(1);
    expect(value(body, 'deskbot_llm_calls_total{outcome="rejected"}')).toBe(1);
    expect(value(body, 'deskbot_llm_tokens_total{direction="in"}')).toBe(120);
    expect(value(body, 'deskbot_llm_tokens_total{direction="out"}')).toBe(40);
    expect(value(body, 'deskbot_llm_cost_usd_total')).toBeCloseTo(0.0012, 12);
  });

  it('reads an open circuit as half-open once its cool-down has passed, as the breaker does', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 9));
    const m = metrics(clock);
    m.exchangesKnown(['binance', 'kraken']);
    m.exchange.circuit('binance', 'open', clock.now() + 30_000);
    m.exchange.error('binance', 'circuit-open');
    let body = await text(m);
    expect(value(body, 'deskbot_exchange_circuit_state{exchange="binance"}')).toBe(2);
    expect(value(body, 'deskbot_exchange_circuit_state{exchange="kraken"}')).toBe(0);
    expect(value(body, 'deskbot_exchange_errors_total{exchange="binance",kind="circuit-open"}')).toBe(1);
    clock.advance(30_000);
    body = await text(m);
    expect(value(body, 'deskbot_exchange_circuit_state{exchange="binance"}')).toBe(1);
    m.exchange.circuit('binance', 'closed', null);
    expect(value(await text(m), 'deskbot_exchange_circuit_state{exchange="binance"}')).toBe(0);
  });

  it('reads the halt state and the adapters at scrape time; a halt probe that hangs keeps the last value', async () => {
    const m = metrics();
    let halted = false;
    let hang = false;
    let connected = true;
    const listeners: { update?: (o: { state: string; broker: string; history: Array<{ state: string }> }) => void; halt?: () => void; changed?: (s: { halted: boolean }) => void } = {};
    m.watch(
      {
        events: { on: (_e, fn) => (listeners.changed = fn) },
        orders: { onUpdate: (fn) => (listeners.update = fn), onHalt: (fn) => (listeners.halt = fn) },
      },
      {
        halted: () => (hang ? new Promise(() => undefined) : Promise.resolve({ halted })),
        adapters: () => [{ platform: 'slack', connected }],
      },
    );
    let body = await text(m);
    expect(value(body, 'deskbot_halted')).toBe(0);
    expect(value(body, 'deskbot_adapter_connected{platform="slack"}')).toBe(1);

    // a halt through this instance: the gateway closes at once, the state change counts once
    listeners.halt?.();
    listeners.changed?.({ halted: true });
    halted = true;
    connected = false;
    body = await text(m);
    expect(value(body, 'deskbot_halted')).toBe(1);
    expect(value(body, 'deskbot_halts_total')).toBe(1);
    expect(value(body, 'deskbot_adapter_connected{platform="slack"}')).toBe(0);

    hang = true;
    const started = Date.now();
    body = await text(m);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(value(body, 'deskbot_halted')).toBe(1);
  });

  it('two metrics objects in one process keep separate counts; both carry the process metrics with the deskbot_ prefix', async () => {
    const a = metrics();
    const b = metrics();
    a.alertRouted({ kind: 'whale', outcome: 'sent' });
    a.alertRouted({ kind: 'whale', outcome: 'sent' });
    b.alertRouted({ kind: 'whale', outcome: 'throttled' });
    const [ta, tb] = [await text(a), await text(b)];
    expect(value(ta, 'deskbot_alerts_total{kind="whale",outcome="sent"}')).toBe(2);
    expect(ta).not.toContain('outcome="throttled"');
    expect(value(tb, 'deskbot_alerts_total{kind="whale",outcome="throttled"}')).toBe(1);
    for (const t of [ta, tb]) {
      expect(t).toMatch(/^deskbot_process_resident_memory_bytes \d+/m);
      expect(t).toMatch(/^# TYPE deskbot_nodejs_eventloop_lag_seconds gauge$/m);
      // each family once: the kernel's and the process registry's names never overlap
      expect(t.match(/^# TYPE deskbot_process_resident_memory_bytes /gm)).toHaveLength(1);
    }
    expect((await a.scrape()).contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});
