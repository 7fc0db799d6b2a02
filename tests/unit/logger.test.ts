import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { createLogger, secretScrubber } from '../../src/kernel/logger.js';

/** A stream that keeps what pino wrote; pino writes synchronously, so output is readable right after a call. */
function capture(): { stream: Writable; text: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const text = (): string => chunks.join('');
  const lines = (): Record<string, unknown>[] =>
    text()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, text, lines };
}

const base = { level: 'info', destination: 'stderr', pretty: 'never' as const };

describe('createLogger', () => {
  it('censors a token under a redacted key, at the top level and nested', () => {
    const out = capture();
    const log = createLogger({ ...base, secrets: [], stream: out.stream });
    log.info({ token: 'tok-top-level-1', adapter: { token: 'tok-nested-222', name: 'telegram' } }, 'connected');
    log.info({ headers: { authorization: 'Bearer abcdefgh' } }, 'request');

    const text = out.text();
    expect(text).not.toContain('tok-top-level-1');
    expect(text).not.toContain('tok-nested-222');
    expect(text).not.toContain('Bearer abcdefgh');
    const [first, second] = out.lines();
    expect(first?.token).toBe('[REDACTED]');
    expect(first?.adapter).toEqual({ token: '[REDACTED]', name: 'telegram' });
    expect(second?.headers).toEqual({ authorization: '[REDACTED]' });
  });

  it('scrubs a known secret value embedded in an error message and stack', () => {
    const out = capture();
    const key = 'sk-test-123456789';
    const log = createLogger({ ...base, secrets: [key], stream: out.stream });
    log.error({ err: new Error(`openai rejected key ${key}: 401`) }, 'llm call failed');

    const text = out.text();
    expect(text).not.toContain(key);
    const [line] = out.lines();
    const err = line?.err as { message: string; stack: string };
    expect(err.message).toBe('openai rejected key [REDACTED]: 401');
    expect(err.stack).not.toContain(key);
    expect(line?.msg).toBe('llm call failed');
  });

  it('scrubs the password of REDIS_URL, raw and URL-encoded, wherever it appears', () => {
    const out = capture();
    const secrets = readSecrets({ REDIS_URL: 'redis://:p%40ss%2Fword9@redis:6379' });
    const log = createLogger({ ...base, secrets: secrets.values(), stream: out.stream });
    log.warn({ url: 'redis://:p%40ss%2Fword9@redis:6379' }, 'connecting');
    log.warn({ url: 'redis://:p%40ss%2Fword9@replica:6380/1' }, 'reconnecting');
    log.warn('auth failed for password p@ss/word9');

    const text = out.text();
    expect(text).not.toContain('p%40ss%2Fword9');
    expect(text).not.toContain('p@ss/word9');
    const [whole, other, message] = out.lines();
    expect(whole?.url).toBe('[REDACTED]'); // the exact REDIS_URL is itself a secret value
    expect(other?.url).toBe('redis://:[REDACTED]@replica:6380/1');
    expect(message?.msg).toBe('auth failed for password [REDACTED]');
  });

  it('scrubs a secret whose JSON form is escaped', () => {
    const out = capture();
    const secret = 'ab"cd\\ef12';
    const log = createLogger({ ...base, secrets: [secret], stream: out.stream });
    log.info(`value is ${secret}`);
    expect(out.lines()[0]?.msg).toBe('value is [REDACTED]');
  });

  it('keeps normal fields and messages intact', () => {
    const out = capture();
    const log = createLogger({ ...base, secrets: ['sk-test-123456789'], stream: out.stream });
    log.child({ plugin: 'signals' }).info({ symbol: 'BTC/USDT', price: 64123.5 }, 'signal computed');

    const [line] = out.lines();
    expect(line).toMatchObject({ plugin: 'signals', symbol: 'BTC/USDT', price: 64123.5, msg: 'signal computed', level: 30 });
  });

  it('does not scrub values shorter than 6 characters', () => {
    const out = capture();
    const log = createLogger({ ...base, secrets: ['abc', 'x1'], stream: out.stream });
    log.info('abc and x1 stay');
    expect(out.lines()[0]?.msg).toBe('abc and x1 stay');
    expect(secretScrubber(['abc'])).toBeUndefined();
  });

  it('respects the level', () => {
    const out = capture();
    const log = createLogger({ ...base, level: 'warn', secrets: [], stream: out.stream });
    log.debug('debug line');
    log.info('info line');
    log.warn('warn line');
    log.error('error line');
    expect(out.lines().map((l) => l.msg)).toEqual(['warn line', 'error line']);
  });

  it('pretty-prints when asked, synchronously and still scrubbed', () => {
    const out = capture();
    const log = createLogger({ ...base, pretty: 'always', secrets: ['sk-test-123456789'], stream: out.stream });
    log.info({ token: 'tok-abcdefgh' }, 'using sk-test-123456789 now');

    const text = out.text();
    expect(text).toContain('using [REDACTED] now');
    expect(text).not.toContain('sk-test-123456789');
    expect(text).not.toContain('tok-abcdefgh');
    expect(() => JSON.parse(text.trim().split('\n')[0] ?? '')).toThrow(); // not JSON
  });

  it('stays JSON on auto when the stream is not a terminal', () => {
    const out = capture();
    const log = createLogger({ ...base, pretty: 'auto', secrets: [], stream: out.stream });
    log.info('plain');
    expect(out.lines()[0]?.msg).toBe('plain');
  });
});
