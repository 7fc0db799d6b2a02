import type { Block } from './reply.js';

/** The period a digest covers and the markets it is about. */
export interface DigestPeriod {
  since: number;
  until: number;
  /** the desk's watch symbols, e.g. ["BTC/USDT", "ETH/USDT"] */
  symbols: string[];
}

/**
 * Facts a section states, for the LLM summary at the top of a digest: the summary may only
 * repeat these numbers and symbols (src/llm checks it).
 */
export interface DigestFacts {
  numbers: Record<string, number>;
  symbols: string[];
  text?: Record<string, string>;
}

/** One part of a digest, contributed by the plugin that owns its numbers. */
export interface DigestSection {
  /** short and stable: "market", "whales", "positions"… (digests can be configured by it) */
  name: string;
  title: string;
  /** lower first */
  order: number;
  /** null: nothing to say for this period (the section is left out) */
  render(period: DigestPeriod): Promise<{ blocks: Block[]; facts?: DigestFacts } | null>;
}

/**
 * Things plugins contribute to a shared slot without knowing who reads it (a digest collects
 * every `digest` section). Plugins may add slots by declaration merging:
 *   declare module '../../src/kernel/index.js' { interface Contributions { widgets: Widget } }
 */
export interface Contributions {
  digest: DigestSection;
  signal: SignalView;
}

/** The market a /signal answer is about and what the strategy said, for the views under it. */
export interface SignalContext {
  exchange: string;
  symbol: string;
  timeframe: string;
  /** the strategy's verdict */
  direction: 'long' | 'short' | 'flat';
  /** open time of the closed candle the signal is for */
  candleTime: number;
}

/**
 * A view another plugin adds under a /signal answer (the ML forecast). It is shown beside the
 * strategy's verdict and never mixed into its score: the backtest replays strategies without
 * these views, and a view must not see past `candleTime`.
 */
export interface SignalView {
  name: string;
  /** null: nothing to say about this market (e.g. no model for it) */
  render(s: SignalContext): Promise<Block[] | null>;
}

/** the contributions made so far, by slot, in order */
export class ContributionRegistry {
  private readonly slots = new Map<string, unknown[]>();

  add<K extends keyof Contributions>(slot: K, item: Contributions[K]): () => void {
    const list = this.slots.get(slot) ?? [];
    list.push(item);
    this.slots.set(slot, list);
    return () => {
      const i = list.indexOf(item);
      if (i >= 0) list.splice(i, 1);
    };
  }

  list<K extends keyof Contributions>(slot: K): Array<Contributions[K]> {
    return [...((this.slots.get(slot) ?? []) as Array<Contributions[K]>)];
  }
}
