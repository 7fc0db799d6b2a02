import { z } from 'zod';
import { Indicators, RULE_IDS, RULES, runRule, type Rule, type RuleResult, type Series } from './rules.js';

/**
 * Strategies: named, weighted sets of rules. Evaluating one at candle i gives
 *   score      = Σ wᵣ·voteᵣ / Σ wᵣ over the rules whose inputs are defined at i (a rule that
 *                did not fire votes 0), in [-1, 1];
 *   direction  = long when score ≥ threshold, short when ≤ −threshold, else flat;
 *   confidence = agreement × sufficiency, in [0, 1], where
 *                agreement   = |Σ w·vote| / Σ w·|vote| over the rules that fired (1 when they all
 *                              point the same way, 0 when they cancel or none fired), and
 *                sufficiency = (weight of rules with defined inputs / all weight)
 *                              × min(1, candles / the strategy's settle window);
 *   reasons    = every rule that fired, with its values.
 * Pure and deterministic: the same candles give the same answer, and only candles ≤ i are read.
 */

export const STRATEGY_NAME = /^[a-z][a-z0-9_-]{0,23}$/;

const ruleRefSchema = z
  .object({
    rule: z.enum(RULE_IDS),
    weight: z.number().positive().max(100).default(1),
    /** the rule's settings; what is left out takes the rule's default */
    params: z.record(z.string(), z.number()).default({}),
  })
  .strict()
  .superRefine((ref, ctx) => {
    const rule = RULES.get(ref.rule) as Rule;
    const r = rule.params.safeParse(ref.params);
    if (!r.success) {
      for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: `${ref.rule}: ${issue.message}`, path: ['params', ...issue.path.map(String)] });
    }
  });

export const strategyConfigSchema = z
  .object({
    description: z.string().max(200).default(''),
    /** |score| at or above this gives a direction; below it: flat */
    threshold: z.number().min(0).max(1).default(0.2),
    rules: z.array(ruleRefSchema).min(1).max(40),
  })
  .strict();

export type StrategyConfig = z.input<typeof strategyConfigSchema>;

export interface StrategyRule {
  rule: Rule;
  weight: number;
  params: Record<string, number>;
}

export interface Strategy {
  name: string;
  description: string;
  threshold: number;
  rules: StrategyRule[];
  /** fewest contiguous candles every rule can answer with */
  warmup: number;
  /** candles after which no rule depends on where the window starts: the window /signal asks for */
  settle: number;
}

export type Direction = 'long' | 'short' | 'flat';

export interface SignalResult {
  strategy: string;
  direction: Direction;
  score: number;
  confidence: number;
  agreement: number;
  sufficiency: number;
  /** every rule of the strategy, fired or not */
  results: RuleResult[];
  /** the rules that fired, strongest weighted vote first */
  reasons: RuleResult[];
  /** the candle index the signal is for, and how many candles up to it were available */
  index: number;
  candles: number;
}

/** The built-in strategies (config may replace them by name or add more). */
export const DEFAULT_STRATEGIES: Record<string, StrategyConfig> = {
  trend: {
    description: 'follow established trends: EMA alignment, price vs EMA(200), ADX with DI direction',
    threshold: 0.25,
    rules: [
      { rule: 'ema_cross', weight: 1 },
      { rule: 'price_ema', weight: 1 },
      { rule: 'adx_di', weight: 1.5 },
      { rule: 'macd_hist', weight: 0.5 },
    ],
  },
  momentum: {
    description: 'ride moves that are gathering speed: RSI side of 50, MACD histogram, rate of change',
    threshold: 0.25,
    rules: [
      { rule: 'rsi_momentum', weight: 1 },
      { rule: 'macd_hist', weight: 1 },
      { rule: 'roc', weight: 1 },
      { rule: 'volume_surge', weight: 0.5 },
    ],
  },
  meanrev: {
    description: 'fade stretched prices: RSI, Bollinger %B and Stochastic extremes',
    threshold: 0.2,
    rules: [
      { rule: 'rsi_extreme', weight: 1 },
      { rule: 'bb_percent_b', weight: 1 },
      { rule: 'stoch_extreme', weight: 1 },
    ],
  },
  breakout: {
    description: 'trade range breaks: Donchian(20) and Keltner breaks confirmed by volume and ADX',
    threshold: 0.25,
    rules: [
      { rule: 'donchian_break', weight: 1.5 },
      { rule: 'keltner_break', weight: 1 },
      { rule: 'volume_surge', weight: 1 },
      { rule: 'obv_trend', weight: 0.5 },
      { rule: 'adx_di', weight: 0.5 },
    ],
  },
  balanced: {
    description: 'every family at once: trend and momentum weigh most, mean reversion and volume temper them',
    threshold: 0.2,
    rules: [
      { rule: 'ema_cross', weight: 1 },
      { rule: 'price_ema', weight: 1 },
      { rule: 'adx_di', weight: 1 },
      { rule: 'rsi_momentum', weight: 1 },
      { rule: 'macd_hist', weight: 1 },
      { rule: 'roc', weight: 0.5 },
      { rule: 'rsi_extreme', weight: 0.5 },
      { rule: 'bb_percent_b', weight: 0.5 },
      { rule: 'stoch_extreme', weight: 0.5 },
      { rule: 'donchian_break', weight: 0.75 },
      { rule: 'keltner_break', weight: 0.5 },
      { rule: 'obv_trend', weight: 0.5 },
      { rule: 'volume_surge', weight: 0.5 },
    ],
  },
};

/** A validated strategy config → a strategy ready to evaluate (rule params filled with defaults). */
export function compileStrategy(name: string, input: StrategyConfig): Strategy {
  const cfg = strategyConfigSchema.parse(input);
  const rules = cfg.rules.map((ref): StrategyRule => {
    const rule = RULES.get(ref.rule) as Rule;
    return { rule, weight: ref.weight, params: rule.params.parse(ref.params) };
  });
  const warmup = Math.max(...rules.map((r) => r.rule.warmup(r.params)));
  return {
    name,
    description: cfg.description,
    threshold: cfg.threshold,
    rules,
    warmup,
    settle: Math.max(warmup, ...rules.map((r) => r.rule.settle(r.params))),
  };
}

/** The built-ins, replaced or extended by config (by name). */
export function compileStrategies(fromConfig: Record<string, StrategyConfig> = {}): Map<string, Strategy> {
  const all = { ...DEFAULT_STRATEGIES, ...fromConfig };
  return new Map(Object.entries(all).map(([name, cfg]) => [name, compileStrategy(name, cfg)]));
}

/** The strategy at candle i of the indicators' series, reading only candles ≤ i. */
export function evaluateAt(strategy: Strategy, x: Indicators, i: number): SignalResult {
  if (!Number.isInteger(i) || i < 0 || i >= x.c.length) throw new RangeError(`candle index ${i} outside 0..${x.c.length - 1}`);
  const results = strategy.rules.map((r) => runRule(r.rule, r.params, r.weight, x, i));
  let wAll = 0;
  let wAvail = 0;
  let sum = 0;
  let firedNet = 0;
  let firedAbs = 0;
  for (const r of results) {
    wAll += r.weight;
    if (!r.available) continue;
    wAvail += r.weight;
    sum += r.weight * r.vote;
    if (r.fired) {
      firedNet += r.weight * r.vote;
      firedAbs += r.weight * Math.abs(r.vote);
    }
  }
  const score = wAvail > 0 ? clamp(sum / wAvail, -1, 1) : 0;
  const agreement = firedAbs > 0 ? clamp(Math.abs(firedNet) / firedAbs, 0, 1) : 0;
  const sufficiency = (wAll > 0 ? wAvail / wAll : 0) * Math.min(1, (i + 1) / strategy.settle);
  const direction: Direction = wAvail === 0 ? 'flat' : score >= strategy.threshold && score > 0 ? 'long' : score <= -strategy.threshold && score < 0 ? 'short' : 'flat';
  const reasons = results
    .filter((r) => r.fired)
    .sort((a, b) => Math.abs(b.weight * b.vote) - Math.abs(a.weight * a.vote) || a.rule.localeCompare(b.rule));
  return {
    strategy: strategy.name,
    direction,
    score,
    confidence: clamp(agreement * sufficiency, 0, 1),
    agreement,
    sufficiency,
    results,
    reasons,
    index: i,
    candles: i + 1,
  };
}

/** The strategy at the newest candle of a series. */
export function evaluate(strategy: Strategy, candles: Series, x: Indicators = new Indicators(candles)): SignalResult {
  return evaluateAt(strategy, x, candles.length - 1);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
