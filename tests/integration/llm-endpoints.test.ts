import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/kernel/clock.js';
import { answers, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai/index.js';
import { btcFacts, llmAgainst, TEST_ENV } from '../fakes/openai/llm-fixture.js';
import { storeFixtures } from '../helpers/stores.js';

/**
 * Where the client can point: OpenAI, Azure OpenAI (deployments API), a local
 * OpenAI-compatible server; and governance shared by several desk instances over Redis.
 */

let fake: FakeOpenAI;
beforeEach(async () => {
  fake = await startFakeOpenAI();
});
afterEach(async () => {
  await fake.close();
});

const ask = { prompt: 'market-summary', facts: btcFacts(), person: 'tom' } as const;

describe('endpoints', () => {
  it('Azure OpenAI: /openai/deployments/<deployment>/chat/completions?api-version=…, key in the api-key header', async () => {
    const { llm } = await llmAgainst(fake, { baseURL: fake.origin, azure: { apiVersion: '2024-10-21', deployment: 'desk-gpt' } });
    fake.script(answers.summary('BTC/USDT at $31,706.33.'));

    expect((await llm.summarise(ask)).source).toBe('llm');
    const r = fake.requests[0];
    expect(r?.path).toBe('/openai/deployments/desk-gpt/chat/completions');
    expect(r?.query).toEqual({ 'api-version': '2024-10-21' });
    expect(r?.headers['api-key']).toBe(TEST_ENV.OPENAI_API_KEY);
    expect(r?.headers['authorization']).toBeUndefined();
    expect(llm.startupNotice()).toContain(`${fake.origin}/openai (Azure, api-version 2024-10-21)`);
  });

  it('a local server under a base path, with max_tokens, json_object and no usage in its answers', async () => {
    const { llm, audit } = await llmAgainst(fake, {
      baseURL: `${fake.origin}/llama`,
      model: 'qwen2.5-7b-instruct',
      maxTokensParam: 'max_tokens',
      responseFormat: 'json_object',
      pricing: { inputPer1k: 0, outputPer1k: 0 },
    });
    fake.script(answers.summary('BTC/USDT at $31,706.33.', null));

    expect((await llm.summarise(ask)).source).toBe('llm');
    const body = fake.requests[0]?.body ?? {};
    expect(fake.requests[0]?.path).toBe('/llama/chat/completions');
    expect(body['response_format']).toEqual({ type: 'json_object' });
    expect(body['max_tokens']).toBe(300);
    expect(body).not.toHaveProperty('max_completion_tokens');
    // no usage from the server: the estimate is counted (and marked) so budgets still bind
    expect(audit[0]).toMatchObject({ outcome: 'accepted', model: 'qwen2.5-7b-instruct', tokensEstimated: true, tokensOut: 300, costUsd: 0 });
    expect(audit[0]?.['tokensIn']).toBeGreaterThan(100);
  });

  it('a wrong key (401) is an endpoint failure: template, not retried, counted by the breaker', async () => {
    const { llm } = await llmAgainst(fake, { maxRetries: 2, breaker: { failures: 1, cooldownMs: 60_000 } });
    fake.script(answers.status(401, 'invalid_api_key'));
    expect(await llm.summarise(ask)).toMatchObject({ source: 'template', reason: 'HTTP 401 invalid_api_key; circuit open for 60000 ms' });
    expect(fake.requests).toHaveLength(1);
  });

  it('nothing listening: connection refused → retried → template', async () => {
    const origin = fake.origin;
    await fake.close();
    const { llm } = await llmAgainst(null, { baseURL: `${origin}/v1`, maxRetries: 1 });
    const s = await llm.summarise(ask);
    expect(s.source).toBe('template');
    expect(s.reason).toMatch(/^connection failed/);
    fake = await startFakeOpenAI(); // for afterEach
  });
});

describe('several desk instances on one Redis share the governance state', () => {
  const { open } = storeFixtures('llm');

  it('a breaker opened by one instance makes the other skip the endpoint; budgets add up across both', async () => {
    const keyPrefix = `test-${randomUUID()}`;
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 9, 0, 0));
    const a = await llmAgainst(fake, { maxRetries: 0, breaker: { failures: 1, cooldownMs: 60_000 } }, { clock, store: (await open('redis', { keyPrefix })).namespace('llm') });
    const b = await llmAgainst(fake, { maxRetries: 0, breaker: { failures: 1, cooldownMs: 60_000 } }, { clock, store: (await open('redis', { keyPrefix })).namespace('llm') });

    fake.script(answers.summary('BTC/USDT at $31,706.33.'), answers.summary('BTC/USDT at $31,706.33.'));
    await a.llm.summarise(ask);
    await b.llm.summarise({ ...ask, person: 'ann' });
    expect(await a.llm.usageToday('ann')).toMatchObject({ desk: { calls: 2, tokensIn: 240, tokensOut: 60 }, person: { calls: 1 } });

    fake.script(answers.serverError());
    expect((await a.llm.summarise(ask)).reason).toBe('HTTP 500; circuit open for 60000 ms');
    expect((await b.llm.summarise(ask)).reason).toMatch(/^circuit open after 1 endpoint failures/);
    expect(fake.requests).toHaveLength(3);

    // after the cooldown exactly one trial goes out, whichever instance asks first
    clock.advance(60_000);
    fake.script(answers.summary('BTC/USDT at $31,706.33.'));
    expect((await b.llm.summarise(ask)).source).toBe('llm');
    fake.script(answers.summary('BTC/USDT at $31,706.33.'));
    expect((await a.llm.summarise(ask)).source).toBe('llm');
    expect(fake.requests).toHaveLength(5);
  });

  it('half-open: of two instances asking at once, one sends the trial and the other gets the template', async () => {
    const keyPrefix = `test-${randomUUID()}`;
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 9, 0, 0));
    const config = { maxRetries: 0, breaker: { failures: 1, cooldownMs: 60_000 } };
    const a = await llmAgainst(fake, config, { clock, store: (await open('redis', { keyPrefix })).namespace('llm') });
    const b = await llmAgainst(fake, config, { clock, store: (await open('redis', { keyPrefix })).namespace('llm') });
    fake.script(answers.serverError());
    await a.llm.summarise(ask);

    clock.advance(60_000);
    fake.script(answers.slow(300, answers.summary('BTC/USDT at $31,706.33.')));
    const [ra, rb] = await Promise.all([a.llm.summarise(ask), b.llm.summarise({ ...ask, person: 'ann' })]);
    expect([ra.source, rb.source].sort()).toEqual(['llm', 'template']);
    expect([ra.reason, rb.reason]).toContain('circuit half-open: a trial call is in flight');
    expect(fake.requests).toHaveLength(2);
  });
});
