import type { DigestFacts } from '../../src/kernel/index.js';

/**
 * The deterministic summary of a digest's facts: what the desk says when there is no LLM, or
 * when the LLM's text fails its checks. Only the facts' own numbers, as given.
 */
export function templateSummary(facts: DigestFacts): string {
  const n = facts.numbers;
  const parts: string[] = [];
  for (const s of facts.symbols) {
    const last = n[`${s} last`];
    if (last === undefined) continue;
    const ch = n[`${s} 24h change %`];
    parts.push(`${s} ${last.toLocaleString('en-US', { maximumFractionDigits: 2 })}${ch === undefined ? '' : ` (${ch >= 0 ? '+' : ''}${ch} % 24 h)`}`);
  }
  const out: string[] = [];
  if (parts.length > 0) out.push(`Prices: ${parts.join(', ')}.`);
  const pnl = n['realised PnL'];
  const unreal = n['unrealised PnL'];
  if (pnl !== undefined || unreal !== undefined) out.push(`PnL: realised ${pnl ?? 0}, unrealised ${unreal ?? 0}.`);
  const halts = n.halts;
  if (halts !== undefined) out.push(halts === 0 ? 'No halts.' : `${halts} halt${halts === 1 ? '' : 's'} in the period.`);
  return out.length > 0 ? out.join(' ') : 'Nothing to summarise for this period.';
}
