import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LLM_CONFIG_DEFAULTS, llmConfigSchema } from '../../src/llm/config.js';
import { defaultPromptsDir, loadPrompts, parsePromptFile } from '../../src/llm/prompts.js';
import { factProblems } from '../../src/llm/spec.js';
import { parseTemplate, renderTemplate } from '../../src/llm/template.js';

/** Prompt files, their templates, and the config that selects them. */

const registry = loadPrompts(defaultPromptsDir());
const render = (id: string, facts: Parameters<typeof renderTemplate>[1]): string => {
  const p = registry.get(id);
  if (!p) throw new Error(`no prompt ${id}`);
  expect(factProblems(p.facts, facts)).toEqual([]);
  return renderTemplate(p.template, facts);
};

describe('the prompts shipped in prompts/', () => {
  it('are the four summary kinds, each at v1', () => {
    expect(registry.ids()).toEqual(['digest-summary', 'market-summary', 'portfolio-summary', 'signal-explain']);
    for (const id of registry.ids()) expect(registry.get(id)?.version).toBe(1);
  });

  it('market-summary template', () => {
    expect(render('market-summary', { symbols: ['ETH/USDT'], numbers: { price: 1894.5, changePct: 2.4 }, text: { window: '24h', signal: 'buy', regime: 'trending up' } })).toBe(
      'ETH/USDT is at $1,894.50 (+2.40% over 24h). Signal: buy; regime: trending up.',
    );
  });

  it('portfolio-summary template, with and without positions', () => {
    expect(
      render('portfolio-summary', {
        symbols: ['BTC/USDT', 'SOL/USDT'],
        numbers: { 'BTC/USDT.qty': 0.5, 'BTC/USDT.pnl': 1250.4, 'SOL/USDT.qty': 120, 'SOL/USDT.pnl': -310, totalPnl: 940.4, riskUsePct: 42 },
      }),
    ).toBe('Open: BTC/USDT 0.5 (PnL $1,250.40); SOL/USDT 120 (PnL -$310.00). Total PnL $940.40; risk use 42.00% of the limit.');
    expect(render('portfolio-summary', { symbols: [], numbers: { totalPnl: 0, riskUsePct: 0 } })).toBe('No open positions. Total PnL $0.00; risk use 0.00% of the limit.');
  });

  it('digest-summary template: optional parts only when given', () => {
    const symbols = ['BTC/USDT', 'ETH/USDT'];
    const numbers = { 'BTC/USDT.changePct': -3.24, 'ETH/USDT.changePct': 1.1 };
    expect(render('digest-summary', { symbols, numbers, text: { period: 'Overnight' } })).toBe('Overnight: BTC/USDT -3.24%, ETH/USDT +1.10%.');
    expect(render('digest-summary', { symbols, numbers: { ...numbers, deskPnl: 512.3, alerts: 4 }, text: { period: 'Overnight' } })).toBe(
      'Overnight: BTC/USDT -3.24%, ETH/USDT +1.10%. Desk PnL $512.30. Alerts: 4.',
    );
  });

  it('signal-explain template: the reasons in order, with their values when given', () => {
    expect(
      render('signal-explain', {
        symbols: ['BTC/USDT'],
        numbers: { 'reasons.2.value': 72.4 },
        text: { signal: 'sell', 'reasons.2': 'RSI(14) above 70', 'reasons.1': 'close below EMA(50)', 'reasons.10': 'volume falling' },
      }),
    ).toBe('BTC/USDT signal: sell. Reasons: close below EMA(50); RSI(14) above 70 (72.4); volume falling.');
  });

  it('facts are checked against what the prompt declares', () => {
    const p = registry.get('portfolio-summary');
    expect(p && factProblems(p.facts, { symbols: ['BTC/USDT'], numbers: { totalPnl: 1 }, quoted: { note: 'hi' } })).toEqual([
      'missing number "riskUsePct"',
      'missing number "BTC/USDT.qty"',
      'missing number "BTC/USDT.pnl"',
      'quoted field "note" is not accepted by this prompt',
    ]);
  });
});

describe('prompt file format', () => {
  const file = (over: { front?: string; user?: string; template?: string } = {}): string =>
    [
      '---',
      over.front ?? 'id: demo\nversion: 2\ndescription: A demo.\nfacts:\n  numbers: [price]',
      '---',
      '## system',
      'Be brief.',
      '## user',
      over.user ?? 'Facts:\n{{facts}}',
      '## template',
      over.template ?? 'Price {{price|usd}}.',
    ].join('\n');

  it('parses front matter and the three sections', () => {
    const p = parsePromptFile('demo.v2.md', file());
    expect(p).toMatchObject({ id: 'demo', version: 2, description: 'A demo.', system: 'Be brief.', user: 'Facts:\n{{facts}}', maxChars: null });
    expect(p.facts).toEqual({ symbols: { min: 0, max: 50 }, numbers: ['price'], text: [], perSymbol: [], lists: [], quoted: [] });
  });

  it.each([
    [{ user: 'Facts: {{facts}} and {{price}}' }, 'the user section must contain {{facts}} exactly once'],
    [{ user: 'no placeholder' }, 'the user section must contain {{facts}} exactly once'],
    [{ template: 'Price {{volume}}.' }, '{{volume}} is not a declared number or text'],
    [{ template: 'Price {{price|eur}}.' }, 'unknown format "eur"'],
    [{ template: '{{#if x}}open' }, '{{#if}} is not closed'],
    [{ template: '{{symbol}} {{price}}' }, '{{symbol}} needs symbols.min ≥ 1'],
    [{ front: 'id: demo\nversion: 2\ndescription: A demo.\nfacts: {}\ntemperature: 2' }, 'Unrecognized key'],
  ])('rejects %o', (over, message) => {
    expect(() => parsePromptFile('demo.v2.md', file(over))).toThrow(message);
  });

  it('guarded values need no declaration: {{#if volume}}…{{/if}} renders only when given', () => {
    const nodes = parseTemplate('P {{price}}{{#if volume}}, vol {{volume|int}}{{else}}, no volume{{/if}}.');
    expect(renderTemplate(nodes, { symbols: [], numbers: { price: 2 } })).toBe('P 2, no volume.');
    expect(renderTemplate(nodes, { symbols: [], numbers: { price: 2, volume: 12345.6 } })).toBe('P 2, vol 12,346.');
  });

  it('the highest version is used unless llm.prompts pins one; file name and front matter must agree', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'deskbot-prompts-'));
    writeFileSync(path.join(dir, 'demo.v1.md'), file({ front: 'id: demo\nversion: 1\ndescription: Old.\nfacts:\n  numbers: [price]' }));
    writeFileSync(path.join(dir, 'demo.v2.md'), file());
    writeFileSync(path.join(dir, 'README.md'), 'not a prompt');
    expect(loadPrompts(dir).get('demo')?.version).toBe(2);
    expect(loadPrompts(dir, { demo: 1 }).get('demo')?.description).toBe('Old.');
    expect(() => loadPrompts(dir, { demo: 3 })).toThrow('pins demo to v3');
    expect(() => loadPrompts(dir, { other: 1 })).toThrow('pins "other"');
    writeFileSync(path.join(dir, 'demo.v3.md'), file());
    expect(() => loadPrompts(dir)).toThrow('front matter says demo v2, the file name says demo v3');
  });

  it('the shipped files start with front matter naming themselves', () => {
    for (const id of registry.ids()) {
      const p = registry.get(id);
      expect(readFileSync(p?.file ?? '', 'utf8')).toMatch(new RegExp(`^---\\nid: ${id}\\nversion: 1\\n`));
    }
  });
});

describe('llm config', () => {
  it('defaults', () => {
    expect(LLM_CONFIG_DEFAULTS).toEqual({
      enabled: true,
      baseURL: null,
      azure: null,
      model: 'gpt-4o-mini',
      timeoutMs: 15_000,
      maxRetries: 2,
      retryBaseMs: 500,
      maxRetryWaitMs: 5_000,
      maxOutputTokens: 300,
      maxTokensParam: 'max_completion_tokens',
      temperature: null,
      responseFormat: 'json_schema',
      maxOutputChars: 600,
      budget: { desk: { tokensPerDay: 200_000, usdPerDay: 2 }, person: { tokensPerDay: 50_000, usdPerDay: 0.5 } },
      rateLimit: { perPersonPerMinute: 6 },
      pricing: { inputPer1k: 0.00015, outputPer1k: 0.0006 },
      breaker: { failures: 3, cooldownMs: 60_000 },
      prompts: {},
    });
  });

  it('rejects misspelt keys and Azure without an endpoint; has no place for the key', () => {
    expect(llmConfigSchema.safeParse({ modle: 'x' }).success).toBe(false);
    expect(llmConfigSchema.safeParse({ apiKey: 'sk-…' }).success).toBe(false);
    const azure = llmConfigSchema.safeParse({ azure: { apiVersion: '2024-10-21' } });
    expect(azure.success).toBe(false);
    expect(azure.error?.issues[0]?.message).toContain('llm.azure needs llm.baseURL');
  });
});
