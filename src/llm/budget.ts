import type Keyv from 'keyv';
import type { LlmConfig } from './config.js';
import { utcDay } from '../kernel/utc.js';
import { KeyLocks } from './locks.js';

/**
 * Daily token and cost budgets, for the whole desk and per person, counted in the store under
 * the UTC day (usage:<day>:desk, usage:<day>:person:<id>) so every instance sees the same totals.
 * A call is refused when the worst case (used + estimated input + max output) would cross a
 * budget; afterwards the real usage is added.
 */

export interface Usage {
  calls: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
}

const EMPTY: Usage = { calls: 0, tokensIn: 0, tokensOut: 0, costUsd: 0 };
// Two days: today's counters must outlive a clock skew between instances; older ones are dead.
const TTL_MS = 2 * 24 * 60 * 60 * 1000;

export function costUsd(pricing: LlmConfig['pricing'], tokensIn: number, tokensOut: number): number {
  return (tokensIn / 1000) * pricing.inputPer1k + (tokensOut / 1000) * pricing.outputPer1k;
}

export class Budgets {
  constructor(
    private readonly kv: Keyv,
    private readonly config: Pick<LlmConfig, 'budget' | 'pricing'>,
    private readonly locks: KeyLocks,
  ) {}

  private keys(now: number, person: string | null): Array<{ key: string; who: 'desk' | 'person' }> {
    const day = utcDay(now);
    const keys: Array<{ key: string; who: 'desk' | 'person' }> = [{ key: `usage:${day}:desk`, who: 'desk' }];
    if (person !== null) keys.push({ key: `usage:${day}:person:${encodeURIComponent(person)}`, who: 'person' });
    return keys;
  }

  async usage(now: number, person: string | null): Promise<{ desk: Usage; person: Usage | null }> {
    const [desk, own] = await Promise.all(this.keys(now, person).map(async ({ key }) => ((await this.kv.get<Usage>(key)) ?? EMPTY)));
    return { desk: desk ?? EMPTY, person: person === null ? null : (own ?? EMPTY) };
  }

  /** why the call must not start, or null when the worst case fits every budget */
  async refusal(now: number, person: string | null, estimate: { tokensIn: number; tokensOut: number }): Promise<string | null> {
    const used = await this.usage(now, person);
    const tokens = estimate.tokensIn + estimate.tokensOut;
    const cost = costUsd(this.config.pricing, estimate.tokensIn, estimate.tokensOut);
    const check = (u: Usage, limit: LlmConfig['budget']['desk'], who: string): string | null => {
      if (u.tokensIn + u.tokensOut + tokens > limit.tokensPerDay) return `daily token budget (${who}) reached: ${u.tokensIn + u.tokensOut} of ${limit.tokensPerDay} used`;
      if (cost > 0 && u.costUsd + cost > limit.usdPerDay) return `daily cost budget (${who}) reached: $${u.costUsd.toFixed(4)} of $${limit.usdPerDay} used`;
      return null;
    };
    return check(used.desk, this.config.budget.desk, 'desk') ?? (used.person ? check(used.person, this.config.budget.person, 'person') : null);
  }

  async add(now: number, person: string | null, tokensIn: number, tokensOut: number): Promise<void> {
    const cost = costUsd(this.config.pricing, tokensIn, tokensOut);
    await Promise.all(
      this.keys(now, person).map(({ key }) =>
        this.locks.run(key, async () => {
          const u = (await this.kv.get<Usage>(key)) ?? EMPTY;
          await this.kv.set(key, { calls: u.calls + 1, tokensIn: u.tokensIn + tokensIn, tokensOut: u.tokensOut + tokensOut, costUsd: u.costUsd + cost }, TTL_MS);
        }),
      ),
    );
  }
}
