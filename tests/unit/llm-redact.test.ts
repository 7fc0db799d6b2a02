import { describe, expect, it } from 'vitest';
import { createRedactor } from '../../src/llm/redact.js';

/** What is scrubbed from facts before they leave the process. */

const r = createRedactor({ secrets: ['sk-live-abcdef123456', 'short'], personalIds: ['1001', 'U_TOM', '42'] });

describe('redaction', () => {
  it.each([
    ['mail me at tom.trader+desk@example.co.uk', 'mail me at [email]'],
    ['call +44 20 7946 0958 or +15551234567', 'call [phone] or [phone]'],
    ['or (020) 7946 0958 or 555-123-4567', 'or [phone] or [phone]'],
    ['ping <@U024BE7LH> in <#C0DESK|desk> <!here>', 'ping [user] in [user] [user]'],
    ['ask U_TOM or telegram user 1001', 'ask [user] or telegram user [user]'],
    ['key sk-live-abcdef123456 leaked', 'key [secret] leaked'],
  ])('%s', (input, output) => {
    expect(r.text(input)).toBe(output);
  });

  it('leaves prices, percentages, dates and short values alone', () => {
    const text = 'BTC 31,706.33 (-3.24%) on 2026-11-27 at 09:00, 42 trades, a short note, id 10010';
    expect(r.text(text)).toBe(text);
  });

  it('redacts labels and quoted text; numbers and symbols pass unchanged', () => {
    expect(
      r.facts({ symbols: ['BTC/USDT'], numbers: { price: 1001 }, text: { by: 'U_TOM' }, quoted: { q: 'from a@b.io' } }),
    ).toEqual({ symbols: ['BTC/USDT'], numbers: { price: 1001 }, text: { by: '[user]' }, quoted: { q: 'from [email]' } });
  });

  it('spots a secret in a serialised body, also JSON-escaped', () => {
    const q = createRedactor({ secrets: ['pa"ss\\word-123'], personalIds: [] });
    expect(q.leaks(JSON.stringify({ x: 'pa"ss\\word-123' }))).toBe(true);
    expect(q.leaks(JSON.stringify({ x: q.text('pa"ss\\word-123') }))).toBe(false);
  });
});
