import { describe, expect, it } from 'vitest';
import { splitMessages, type Unit } from '../../src/adapters/common/split.js';

const fence = (lines: string[]): string => `\`\`\`\n${lines.join('\n')}\n\`\`\``;

describe('splitting a reply at a platform limit', () => {
  it('keeps a short reply in one message', () => {
    expect(splitMessages([{ kind: 'text', text: 'hello' }, { kind: 'pre', header: ['h'], lines: ['a', 'b'], wrap: fence }], { limit: 100 })).toEqual([
      'hello\n```\nh\na\nb\n```',
    ]);
  });

  it('cuts long text at paragraphs, then lines, then words, never above the limit', () => {
    const text = `${'word '.repeat(50).trim()}\n\n${'line\n'.repeat(30).trim()}`;
    const parts = splitMessages([{ kind: 'text', text }], { limit: 60 });
    expect(parts.every((p) => p.length <= 60)).toBe(true);
    expect(parts.join(' ').replace(/\s+/g, ' ')).toBe(text.replace(/\s+/g, ' '));
  });

  it('splits a long table between rows, repeating its header in each part, each part a whole code block', () => {
    const rows = Array.from({ length: 200 }, (_, i) => `  BTC/USDT  ${String(i).padStart(4)}  31,706.33`);
    const unit: Unit = { kind: 'pre', header: ['  symbol    row   price', '  ────────  ────  ─────────'], lines: rows, wrap: fence };
    const parts = splitMessages([{ kind: 'text', text: 'Scan' }, unit], { limit: 2000 });
    expect(parts.length).toBe(3); // 200 rows × 28 chars over 2,000-char messages
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(2000);
      expect(p).toMatch(/```\n {2}symbol {4}row {3}price\n/);
      expect(p.endsWith('```')).toBe(true);
    }
    // every row exactly once, in order
    const seen = parts.flatMap((p) => p.split('\n').filter((l) => l.startsWith('  BTC/USDT')));
    expect(seen).toEqual(rows);
  });

  it('measures with the platform\'s own length', () => {
    const parts = splitMessages([{ kind: 'text', text: 'a&b '.repeat(40) }], { limit: 50, measure: (s) => s.replace(/&/g, '&amp;').length });
    expect(parts.every((p) => p.replace(/&/g, '&amp;').length <= 50)).toBe(true);
  });
});
