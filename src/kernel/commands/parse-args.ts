import type { ArgShape, ArgSpec, ArgsOf } from './args.js';
import type { Token } from './tokenize.js';

export type ArgsResult<A extends ArgShape> = { ok: true; args: ArgsOf<A> } | { ok: false; error: string };

/**
 * Fills a command's arguments from tokens: key=value first, then positional words in order.
 * An optional positional argument that does not accept a word is skipped when a later
 * optional one does, so `/signal btc momentum` works as well as `/signal btc 4h momentum`.
 * Every failure is one sentence for the sender; nothing here throws.
 */
export function parseArgs<A extends ArgShape>(shape: A, tokens: readonly Token[]): ArgsResult<A> {
  const names = Object.keys(shape);
  const raw = new Map<string, string>();
  const values = new Map<string, unknown>();
  const positional: string[] = [];

  for (const t of tokens) {
    if (t.key === undefined) {
      positional.push(t.value);
      continue;
    }
    const name = names.find((n) => normalise(n) === t.key);
    if (name === undefined) {
      const known = names.length > 0 ? ` (options: ${names.join(', ')})` : ' (this command takes no options)';
      return { ok: false, error: `unknown option "${t.key}"${known}` };
    }
    if (raw.has(name)) return { ok: false, error: `${name} is given twice` };
    raw.set(name, t.value);
  }

  let p = 0;
  for (let i = 0; i < names.length && p < positional.length; i++) {
    const name = names[i] as string;
    if (raw.has(name)) continue;
    const s = shape[name] as ArgSpec<unknown>;
    if (s.options.rest) {
      raw.set(name, positional.slice(p).join(' '));
      p = positional.length;
      break;
    }
    const word = positional[p] as string;
    if (!s.options.required) {
      const here = s.options.schema.safeParse(word);
      if (!here.success) {
        // skip ahead to a later optional argument that takes this word, if there is one
        const later = laterOptionalTaking(shape, names, i + 1, raw, word);
        if (later !== undefined) {
          raw.set(later.name, word);
          values.set(later.name, later.value);
          p++;
          i = names.indexOf(later.name);
          continue;
        }
      } else {
        raw.set(name, word);
        values.set(name, here.data);
        p++;
        continue;
      }
    }
    raw.set(name, word);
    p++;
  }
  if (p < positional.length) {
    const extra = positional.slice(p);
    return { ok: false, error: `too many arguments: ${extra.map((e) => `"${e}"`).join(' ')}` };
  }

  const out: Record<string, unknown> = {};
  for (const name of names) {
    const s = shape[name] as ArgSpec<unknown>;
    if (values.has(name)) {
      out[name] = values.get(name);
      continue;
    }
    const text = raw.get(name);
    if (text === undefined) {
      if (s.options.required) return { ok: false, error: `missing ${name} (${s.options.hint})` };
      out[name] = s.options.defaultValue;
      continue;
    }
    const r = s.options.schema.safeParse(text);
    if (!r.success) {
      const msg = r.error.issues[0]?.message ?? 'invalid value';
      return { ok: false, error: `${name}: ${msg}` };
    }
    out[name] = r.data;
  }
  return { ok: true, args: out as ArgsOf<A> };
}

function laterOptionalTaking(
  shape: ArgShape,
  names: string[],
  from: number,
  raw: Map<string, string>,
  word: string,
): { name: string; value: unknown } | undefined {
  for (let j = from; j < names.length; j++) {
    const name = names[j] as string;
    const s = shape[name] as ArgSpec<unknown>;
    if (s.options.required || s.options.rest) return undefined;
    if (raw.has(name)) continue;
    const r = s.options.schema.safeParse(word);
    if (r.success) return { name, value: r.data };
  }
  return undefined;
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/-/g, '_');
}

/** `/buy <symbol> <amount> [limit] [stop]` — `[x]` optional, `<text...>` rest */
export function usageLine(command: string, shape: ArgShape): string {
  const parts = [`/${command}`];
  for (const [name, s] of Object.entries(shape)) {
    const label = s.options.rest ? `${name}...` : name;
    parts.push(s.options.required ? `<${label}>` : `[${label}]`);
  }
  return parts.join(' ');
}
