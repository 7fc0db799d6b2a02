import type { Facts } from './facts.js';
import { listKeys } from './facts.js';
import { formatNumber, isNumberFormat, type NumberFormat } from './format.js';

/**
 * The deterministic fallback: a tiny Mustache-like language, parsed when the prompt file loads
 * (so a broken template fails at start-up, not in a chat).
 *
 *   {{price|usd}}          a number from facts.numbers (formats: num int usd pct chg signed) or a text label
 *   {{symbol}} {{symbols}} the first symbol; all symbols joined with ", "
 *   {{#each symbols "; "}}{{.}} {{.qty|num}}{{/each}}   per symbol; .qty is numbers["<symbol>.qty"]
 *   {{#each reasons "; "}}{{.}}{{/each}}                per text label reasons.1, reasons.2, …
 *   {{#if name}}…{{else}}…{{/if}}                      present (numbers/text/list/item field) or not
 */

export type TemplateNode =
  | { t: 'text'; s: string }
  | { t: 'var'; name: string; format: NumberFormat | null }
  | { t: 'each'; over: string; sep: string; body: TemplateNode[] }
  | { t: 'if'; name: string; then: TemplateNode[]; else: TemplateNode[] };

const TAG = /\{\{\s*([^}]*?)\s*\}\}/g;
const NAME = /^(?:\.|\.?[A-Za-z0-9][A-Za-z0-9._/:-]*)$/;

/** Parse; throws with a readable message on a malformed template. */
export function parseTemplate(source: string): TemplateNode[] {
  // Authors may wrap a long template over several lines; the output is one paragraph.
  const text = source.trim().replace(/\s*\n\s*/g, ' ');
  type Frame = { node: TemplateNode & { t: 'each' | 'if' }; into: TemplateNode[] };
  const root: TemplateNode[] = [];
  const stack: Frame[] = [];
  let out = root;
  let last = 0;
  for (const m of text.matchAll(TAG)) {
    if (m.index > last) out.push({ t: 'text', s: text.slice(last, m.index) });
    last = m.index + m[0].length;
    const tag = m[1] ?? '';
    const each = /^#each\s+(\S+)(?:\s+"([^"]*)")?$/.exec(tag);
    const iff = /^#if\s+(\S+)$/.exec(tag);
    if (each) {
      const over = each[1] ?? '';
      if (!NAME.test(over) || over.startsWith('.')) throw new Error(`template: bad #each "${over}"`);
      if (stack.some((f) => f.node.t === 'each')) throw new Error('template: #each cannot be nested');
      const node: TemplateNode & { t: 'each' } = { t: 'each', over, sep: each[2] ?? ' ', body: [] };
      out.push(node);
      stack.push({ node, into: out });
      out = node.body;
    } else if (iff) {
      const name = iff[1] ?? '';
      if (!NAME.test(name)) throw new Error(`template: bad #if "${name}"`);
      const node: TemplateNode & { t: 'if' } = { t: 'if', name, then: [], else: [] };
      out.push(node);
      stack.push({ node, into: out });
      out = node.then;
    } else if (tag === 'else') {
      const top = stack[stack.length - 1];
      if (top?.node.t !== 'if' || out !== top.node.then) throw new Error('template: {{else}} outside {{#if}}');
      out = top.node.else;
    } else if (tag === '/each' || tag === '/if') {
      const top = stack.pop();
      if (!top || `/${top.node.t}` !== tag) throw new Error(`template: unexpected {{${tag}}}`);
      out = top.into;
    } else {
      const [name = '', format, ...rest] = tag.split('|').map((s) => s.trim());
      if (!NAME.test(name) || rest.length > 0) throw new Error(`template: bad tag {{${tag}}}`);
      if (format !== undefined && !isNumberFormat(format)) throw new Error(`template: unknown format "${format}" in {{${tag}}}`);
      out.push({ t: 'var', name, format: format ?? null });
    }
  }
  if (stack.length > 0) throw new Error(`template: {{#${stack[stack.length - 1]?.node.t}}} is not closed`);
  if (last < text.length) out.push({ t: 'text', s: text.slice(last) });
  return root;
}

interface Item {
  /** the symbol, or the text key of a list entry ("reasons.1") */
  key: string;
  /** what {{.}} prints */
  shown: string;
}

export function renderTemplate(nodes: TemplateNode[], facts: Facts): string {
  return render(nodes, facts, null).replace(/ {2,}/g, ' ').trim();
}

function render(nodes: TemplateNode[], facts: Facts, item: Item | null): string {
  let s = '';
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        s += n.s;
        break;
      case 'var':
        s += value(n.name, n.format, facts, item);
        break;
      case 'if':
        s += render(present(n.name, facts, item) ? n.then : n.else, facts, item);
        break;
      case 'each':
        s += items(n.over, facts)
          .map((it) => render(n.body, facts, it))
          .join(n.sep);
        break;
    }
  }
  return s;
}

function items(over: string, facts: Facts): Item[] {
  if (over === 'symbols') return facts.symbols.map((sym) => ({ key: sym, shown: sym }));
  return listKeys(facts, over).map((key) => ({ key, shown: facts.text?.[key] ?? '' }));
}

/** "price" → "price"; ".qty" inside an item → "BTC/USDT.qty" */
function resolve(name: string, item: Item | null): string {
  if (!name.startsWith('.')) return name;
  if (item === null) throw new Error(`template: {{${name}}} outside {{#each}}`);
  return `${item.key}${name}`;
}

function present(name: string, facts: Facts, item: Item | null): boolean {
  if (name === 'symbols' || name === 'symbol') return facts.symbols.length > 0;
  if (name === '.') return item !== null;
  const key = resolve(name, item);
  return key in facts.numbers || (facts.text?.[key] ?? '') !== '' || listKeys(facts, key).length > 0;
}

function value(name: string, format: NumberFormat | null, facts: Facts, item: Item | null): string {
  if (name === '.') {
    if (item === null) throw new Error('template: {{.}} outside {{#each}}');
    return item.shown;
  }
  if (name === 'symbol') return facts.symbols[0] ?? '';
  if (name === 'symbols') return facts.symbols.join(', ');
  const key = resolve(name, item);
  const n = facts.numbers[key];
  if (n !== undefined) return formatNumber(n, format ?? 'num');
  const t = facts.text?.[key];
  if (t !== undefined) return t;
  // Facts are checked against the prompt's declared inputs first, so this is a prompt-file bug.
  throw new Error(`template: no fact "${key}"`);
}
