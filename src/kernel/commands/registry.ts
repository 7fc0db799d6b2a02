import type { ArgShape } from './args.js';
import type { CommandSpec, RegisteredCommand } from './command.js';
import { usageLine } from './parse-args.js';

const NAME = /^[a-z][a-z0-9_]{0,31}$/;

export class CommandRegistry {
  private readonly byName = new Map<string, RegisteredCommand>();
  private readonly byAlias = new Map<string, RegisteredCommand>();

  /** Throws on a bad or taken name: that is a plugin bug, found at start-up. */
  register<A extends ArgShape>(plugin: string, spec: CommandSpec<A>): RegisteredCommand {
    const generic = spec as unknown as CommandSpec<ArgShape>;
    for (const n of [spec.name, ...(spec.aliases ?? [])]) {
      if (!NAME.test(n)) throw new Error(`plugin ${plugin}: command name "${n}" must be lower-case letters, digits or _ (at most 32)`);
      const taken = this.lookup(n);
      if (taken) throw new Error(`plugin ${plugin}: command /${n} is already registered by plugin ${taken.plugin}`);
    }
    const cmd: RegisteredCommand = { plugin, spec: generic, usage: usageLine(spec.name, spec.args ?? {}) };
    this.byName.set(spec.name, cmd);
    for (const a of spec.aliases ?? []) this.byAlias.set(a, cmd);
    return cmd;
  }

  lookup(name: string): RegisteredCommand | undefined {
    return this.byName.get(name) ?? this.byAlias.get(name);
  }

  list(): RegisteredCommand[] {
    return [...this.byName.values()].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  }

  /** Close matches for a mistyped name: prefix matches first, then edit distance ≤ 2 (a swap counts once). */
  suggest(name: string, max = 3): string[] {
    const all = [...this.byName.keys(), ...this.byAlias.keys()];
    const scored = all
      .map((n) => ({ n, d: n.startsWith(name) || name.startsWith(n) ? 0.5 : editDistance(name, n) }))
      .filter((x) => x.d === 0.5 || x.d <= (name.length < 3 ? 1 : 2))
      .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n));
    const out: string[] = [];
    for (const { n } of scored) {
      const canonical = this.lookup(n)?.spec.name ?? n;
      if (!out.includes(canonical)) out.push(canonical);
      if (out.length >= max) break;
    }
    return out;
  }
}

/**
 * Edit distance where swapping two neighbours counts as one edit (optimal string alignment),
 * since "/hlep" is the typo people make. Bounded input: command names are ≤ 32 chars.
 */
export function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Math.max(a.length, b.length);
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    const prev = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (rows[i - 2] as number[])[j - 2] as number + 1);
      cur[j] = d;
    }
    rows.push(cur);
  }
  return (rows[a.length] as number[])[b.length] as number;
}
