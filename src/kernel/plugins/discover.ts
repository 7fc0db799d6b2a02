import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { PluginManifest } from './plugin.js';

/** What a plugin module must export (as `default` or `plugin`), checked before anything runs. */
const manifestSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a lower-case name like "signals"'),
  version: z.string().regex(/^\d+\.\d+\.\d+(?:[-+].+)?$/, 'a semver version like "1.0.0"'),
  description: z.string().optional(),
  needs: z.array(z.string()).optional(),
  config: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'a zod schema').optional(),
  setup: z.custom<PluginManifest['setup']>((v) => typeof v === 'function', 'a function'),
});

export interface FoundPlugin {
  manifest: PluginManifest;
  /** folder or package it came from, for error messages */
  from: string;
}

/** Plugin folders in `dir`: each subfolder with an index.js or index.ts (compiled code wins). */
export function pluginFolders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const folder = path.join(dir, entry);
    if (!statSync(folder).isDirectory()) continue;
    const file = ['index.js', 'index.ts'].map((f) => path.join(folder, f)).find((f) => existsSync(f));
    if (file) out.push(file);
  }
  return out;
}

export async function loadPluginModule(specifier: string, from: string): Promise<FoundPlugin> {
  const url = path.isAbsolute(specifier) ? pathToFileURL(specifier).href : specifier;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`plugin at ${from}: cannot be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  return { manifest: checkManifest(mod.default ?? mod.plugin, from), from };
}

export function checkManifest(candidate: unknown, from: string): PluginManifest {
  const r = manifestSchema.safeParse(candidate);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'export';
    throw new Error(`plugin at ${from}: manifest ${field}: ${issue?.message ?? 'invalid'} (export default definePlugin({...}))`);
  }
  return candidate as PluginManifest;
}

/**
 * Set-up order: every plugin after the ones it needs; otherwise alphabetical, so the order
 * is the same on every machine. A missing need or a cycle is a start-up error naming it.
 */
export function orderByNeeds(plugins: readonly FoundPlugin[]): FoundPlugin[] {
  const byName = new Map<string, FoundPlugin>();
  for (const p of plugins) {
    const dup = byName.get(p.manifest.name);
    if (dup) throw new Error(`plugin ${p.manifest.name} is defined twice (${dup.from} and ${p.from})`);
    byName.set(p.manifest.name, p);
  }
  for (const p of plugins) {
    for (const need of p.manifest.needs ?? []) {
      if (!byName.has(need)) throw new Error(`plugin ${p.manifest.name} needs plugin ${need}, which is not loaded (missing or disabled)`);
    }
  }
  // a cycle first, named, so the message says which plugins to untangle
  const done = new Set<string>();
  const visiting: string[] = [];
  const visit = (name: string): void => {
    if (done.has(name)) return;
    const at = visiting.indexOf(name);
    if (at >= 0) throw new Error(`plugins need each other in a cycle: ${[...visiting.slice(at), name].join(' → ')}`);
    visiting.push(name);
    for (const need of [...((byName.get(name) as FoundPlugin).manifest.needs ?? [])].sort()) visit(need);
    visiting.pop();
    done.add(name);
  };
  for (const name of [...byName.keys()].sort()) visit(name);

  // then Kahn's algorithm, always taking the alphabetically first plugin that is ready
  const waitingOn = new Map([...byName].map(([name, p]) => [name, new Set(p.manifest.needs ?? [])]));
  const out: FoundPlugin[] = [];
  while (waitingOn.size > 0) {
    const ready = [...waitingOn].filter(([, needs]) => needs.size === 0).map(([name]) => name).sort()[0] as string;
    waitingOn.delete(ready);
    for (const needs of waitingOn.values()) needs.delete(ready);
    out.push(byName.get(ready) as FoundPlugin);
  }
  return out;
}

/** One line: `plugin status: config plugins.settings.status.refresh: expected number, got string`. */
export function configError(plugin: string, error: z.ZodError): string {
  const issue = error.issues[0];
  const field = ['plugins', 'settings', plugin, ...(issue?.path ?? []).map(String)].join('.');
  return `plugin ${plugin}: config ${field}: ${issue?.message ?? 'invalid'}`;
}
