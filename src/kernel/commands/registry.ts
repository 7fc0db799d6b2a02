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

  /** Close matches for a mistyped name: prefix matches first, then edit distance ≤ 2. */
  suggest(name: string, max = 3): string[] {
    const all = [...this.byName.keys(), ...this.byAlias.keys()];
    const scored = all
      .map((n) => ({ n, d: n.startsWith(name) || name.startsWith(n) ? 0.5 : editDistance(name, n) }))
      .filter((x) => x.d <= Math.min(2, Math.max(1, Math.floor(name.length / 3))) || x.d === 0.5)
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

/** Levenshtein distance, bounded input (command names are ≤ 32 chars). */
export function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Math.max(a.length, b.length);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = cur;
  }
  return prev[b.length] as number;
}
