import { z } from 'zod';
import { listKeys, type Facts } from './facts.js';
import type { TemplateNode } from './template.js';

/**
 * A prompt's declared inputs (front matter `facts:`). Facts are checked against it before
 * anything else, so a template never meets a missing value and a prompt never receives chat
 * text it was not written to treat as data.
 */
const names = z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9._-]*$/)).default([]);

export const factSpecSchema = z
  .object({
    symbols: z
      .object({ min: z.number().int().min(0).default(0), max: z.number().int().min(0).default(50) })
      .strict()
      .default({ min: 0, max: 50 }),
    /** required numbers */
    numbers: names,
    /** required text labels */
    text: names,
    /** numbers required for every symbol: perSymbol [qty] needs numbers["BTC/USDT.qty"] */
    perSymbol: names,
    /** text lists that need at least one entry: lists [reasons] needs text["reasons.1"] */
    lists: names,
    /** quoted chat-text fields this prompt accepts; any other quoted field is refused */
    quoted: names,
  })
  .strict();

export type FactSpec = z.output<typeof factSpecSchema>;

/** Problems with `facts` for this spec; empty when they fit. */
export function factProblems(spec: FactSpec, facts: Facts): string[] {
  const problems: string[] = [];
  const n = facts.symbols.length;
  if (n < spec.symbols.min || n > spec.symbols.max) problems.push(`needs ${spec.symbols.min}–${spec.symbols.max} symbols, got ${n}`);
  for (const k of spec.numbers) if (!(k in facts.numbers)) problems.push(`missing number "${k}"`);
  for (const k of spec.text) if ((facts.text?.[k] ?? '') === '') problems.push(`missing text "${k}"`);
  for (const sym of facts.symbols) {
    for (const k of spec.perSymbol) if (!(`${sym}.${k}` in facts.numbers)) problems.push(`missing number "${sym}.${k}"`);
  }
  for (const l of spec.lists) if (listKeys(facts, l).length === 0) problems.push(`missing list "${l}" (text "${l}.1", …)`);
  for (const k of Object.keys(facts.quoted ?? {})) if (!spec.quoted.includes(k)) problems.push(`quoted field "${k}" is not accepted by this prompt`);
  return problems;
}

/**
 * Problems with a template for this spec: every value it prints outside an {{#if}} must be
 * declared required, so rendering cannot fail on facts that passed `factProblems`.
 */
export function templateProblems(spec: FactSpec, nodes: TemplateNode[]): string[] {
  const problems: string[] = [];
  const walk = (ns: TemplateNode[], guards: ReadonlySet<string>, each: string | null): void => {
    for (const node of ns) {
      if (node.t === 'var') {
        const { name } = node;
        if (guards.has(name) || name === '.' || name === 'symbol' || name === 'symbols') {
          if ((name === 'symbol' || name === 'symbols') && spec.symbols.min < 1 && !guards.has(name) && !guards.has('symbols')) {
            problems.push(`{{${name}}} needs symbols.min ≥ 1 or an {{#if symbols}}`);
          }
          continue;
        }
        if (name.startsWith('.')) {
          if (each !== 'symbols' || !spec.perSymbol.includes(name.slice(1))) problems.push(`{{${name}}} is not declared in perSymbol; guard it with {{#if ${name}}}`);
        } else if (!spec.numbers.includes(name) && !spec.text.includes(name)) {
          problems.push(`{{${name}}} is not a declared number or text; declare it or guard it with {{#if ${name}}}`);
        }
      } else if (node.t === 'each') {
        if (node.over !== 'symbols' && !spec.lists.includes(node.over) && !guards.has(node.over)) {
          problems.push(`{{#each ${node.over}}} is not a declared list; declare it or guard it with {{#if ${node.over}}}`);
        }
        walk(node.body, guards, node.over);
      } else if (node.t === 'if') {
        walk(node.then, new Set([...guards, node.name]), each);
        walk(node.else, guards, each);
      }
    }
  };
  walk(nodes, new Set(), null);
  return problems;
}
