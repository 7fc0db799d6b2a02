import type { ArgShape } from './args.js';
import type { CommandSpec, RegisteredCommand } from './command.js';
import { closest } from '../fuzzy.js';
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
    // aliases count as matches, answered with their command's own name
    const near = closest(name, [...this.byName.keys(), ...this.byAlias.keys()], { max: max * 2 });
    return [...new Set(near.map((n) => this.lookup(n)?.spec.name ?? n))].slice(0, max);
  }
}
