import { describe, expect, it } from 'vitest';
import { renderText } from '../../src/adapters/console/render.js';
import { block, reply } from '../../src/kernel/index.js';

describe('console rendering', () => {
  it('aligns grid tables and right-aligns numeric columns', () => {
    const out = renderText(
      reply.of(
        block.table(
          ['symbol', 'last', 'change'],
          [
            ['BTC/USDT', '64,012.5', '+2.1%'],
            ['ETH/USDT', '3,100', '-0.35%'],
          ],
          { title: 'Movers' },
        ),
      ),
    );
    expect(out).toBe(
      ['Movers', '  symbol        last  change', '  ────────  ────────  ──────', '  BTC/USDT  64,012.5   +2.1%', '  ETH/USDT     3,100  -0.35%'].join('\n'),
    );
  });

  it('pads key/value tables by key and keeps a newline in a cell from breaking the columns', () => {
    const out = renderText(reply.of(block.kv({ uptime: '5m', 'store kind': 'sqlite\n(file)' })));
    expect(out).toBe('  uptime      5m\n  store kind  sqlite (file)');
  });

  it('marks tones, indents code and lists buttons as the commands they run', () => {
    const out = renderText(
      reply.of(block.text('careful', 'warn'), block.code('a\nb'), block.buttons([{ label: 'Confirm', command: '/confirm abc123' }])),
    );
    expect(out).toBe('! careful\n    a\n    b\n[Confirm: /confirm abc123]');
  });

  it('colours only when asked', () => {
    expect(renderText(reply.error('no'), { color: true })).toBe('\x1b[31m✗ no\x1b[0m');
    expect(renderText(reply.error('no'), { color: false })).toBe('✗ no');
  });

  it('shows where an image went instead of its bytes', () => {
    const png = new Uint8Array([137, 80, 78, 71]);
    const out = renderText(reply.of({ type: 'image', png, alt: 'BTC 1h chart' }), { color: false, imagePath: () => '/tmp/x.png' });
    expect(out).toBe('[image: BTC 1h chart → /tmp/x.png]');
  });
});
