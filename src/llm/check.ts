import { z } from 'zod';
import type { Facts } from './facts.js';
import { firstUnbackedNumber, numbersIn } from './numbers.js';
import { firstUnknownSymbol, symbolParts } from './symbols.js';

/**
 * The output checks: a model's answer is used only if all pass; any failure means the template.
 * Order: shape, length, links/mentions, numbers, symbols — the first failure is the reason.
 */

const answerSchema = z.object({ summary: z.string() }).strict();

export type CheckResult = { ok: true; text: string } | { ok: false; reason: string };

export interface CheckContext {
  /** the facts as sent (redacted): a number the model saw only as "[phone]" is not a fact */
  facts: Facts;
  maxChars: number;
  knownCurrencies: ReadonlySet<string>;
}

/** numbers and symbols the text may use: the facts', plus those written in trusted labels */
export function allowedFromFacts(facts: Facts): { numbers: number[]; symbols: Set<string> } {
  const labels = Object.values(facts.text ?? {});
  const numbers = [...Object.values(facts.numbers), ...labels.flatMap(numbersIn), ...facts.symbols.flatMap(numbersIn)];
  const symbols = new Set(facts.symbols.flatMap(symbolParts));
  for (const label of labels) {
    for (const m of label.matchAll(/(?<![A-Za-z0-9])[0-9]?[A-Z][A-Z0-9]{1,11}(?:\s?[/-]\s?[0-9]?[A-Z][A-Z0-9]{1,11})?(?![A-Za-z0-9])/g)) {
      for (const part of symbolParts(m[0].replace(/\s/g, ''))) symbols.add(part);
    }
  }
  return { numbers, symbols };
}

/** Check a model's raw message content. */
export function checkAnswer(content: string, ctx: CheckContext): CheckResult {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch {
    return { ok: false, reason: 'answer is not JSON' };
  }
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'answer is not {"summary": string}' };
  return checkText(parsed.data.summary.trim(), ctx);
}

/** Check summary text (also used to prove templates pass the same rules). */
export function checkText(text: string, ctx: CheckContext): CheckResult {
  if (text === '') return { ok: false, reason: 'empty summary' };
  if (text.length > ctx.maxChars) return { ok: false, reason: `too long: ${text.length} characters, limit ${ctx.maxChars}` };
  if (/https?:\/\/|\bwww\.|\]\(/i.test(text)) return { ok: false, reason: 'contains a link' };
  if (/@(everyone|here|channel)\b|<[@#!]/i.test(text)) return { ok: false, reason: 'contains a mention' };
  const allowed = allowedFromFacts(ctx.facts);
  const number = firstUnbackedNumber(text, allowed.numbers);
  if (number) return { ok: false, reason: `number "${number.raw}" is not in the facts` };
  const symbol = firstUnknownSymbol(text, allowed.symbols, ctx.knownCurrencies);
  if (symbol) return { ok: false, reason: `symbol "${symbol}" was not given` };
  return { ok: true, text };
}
