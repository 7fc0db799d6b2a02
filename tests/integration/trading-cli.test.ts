import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { sharedDataDir } from '../helpers/recorded.js';

/**
 * The terminal desk as a trader runs it, in real processes on the embedded SQLite store and the
 * recorded prices: a paper fill, then a halt that is still there after the process restarts,
 * and a resume the halter cannot do alone (four eyes).
 */

const dataDir = tempDir('deskbot-trading-cli-');
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const desk = (input: string, as?: string) =>
  runCli(['start'], { input, timeoutMs: 120_000, env: { DESKBOT_DATA_DIR: dataDir, DESKBOT_MARKET_DIR: sharedDataDir(), ...(as ? { DESKBOT_AS: as } : {}) } });

describe('trading from the terminal, across restarts', () => {
  it('fills on paper, halts, stays halted after a restart, and needs a second person to resume', async () => {
    const first = await desk('/buy BTC/USDT 0.01\nyes\n/positions\n/halt drill before lunch\n');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Confirm \/buy BTC\/USDT 0\.01\?/);
    expect(first.stdout).toContain('Filled');
    expect(first.stdout).toMatch(/BTC\/USDT\s+0\.01\s/);
    expect(first.stdout).toContain('HALTED by operator: drill before lunch');

    // a new process on the same data dir: still halted, the order refused with the halt's reason
    const second = await desk('/status\n/buy btc 0.01\nyes\n/resume\n');
    expect(second.stdout).toMatch(/trading\s+HALTED .* by operator: drill before lunch/);
    expect(second.stdout).toContain('REJECTED: trading is halted by operator');
    expect(second.stdout).toContain('four eyes');

    // the risk officer resumes; the position from the first process is still there
    const third = await desk('/resume\n/positions\n', 'risk');
    expect(third.stdout).toContain('Trading resumed by risk (halted by operator: drill before lunch)');
    expect(third.stdout).toMatch(/BTC\/USDT\s+0\.01\s/);

    const verify = await runCli(['audit', 'verify'], { env: { DESKBOT_DATA_DIR: dataDir } });
    expect(verify.stdout).toMatch(/^ok: /);
  }, 400_000);
});
