import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { factSpecSchema, templateProblems, type FactSpec } from './spec.js';
import { parseTemplate, type TemplateNode } from './template.js';

/**
 * Prompt files: prompts/<id>.v<version>.md — YAML front matter (id, version, description,
 * facts, maxChars) then three sections, `## system`, `## user` and `## template`.
 * The user section must contain `{{facts}}` exactly once and nothing else in braces: the facts
 * go in as one JSON document, so chat text can only ever arrive as a quoted JSON string.
 */

export interface Prompt {
  id: string;
  version: number;
  description: string;
  facts: FactSpec;
  /** a tighter output limit than llm.maxOutputChars, if set */
  maxChars: number | null;
  system: string;
  /** the user message with `{{facts}}` where the facts JSON goes */
  user: string;
  template: TemplateNode[];
  file: string;
}

const FILE = /^([a-z][a-z0-9-]*)\.v([1-9]\d*)\.md$/;

const frontMatterSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]*$/),
    version: z.number().int().min(1),
    description: z.string().min(1),
    facts: factSpecSchema,
    maxChars: z.number().int().min(40).max(4_000).optional(),
  })
  .strict();

/** <repo>/prompts, from src/llm (tsx) or dist/src/llm (built). */
export function defaultPromptsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const fromSrc = path.resolve(here, '..', '..', 'prompts');
  return existsSync(fromSrc) ? fromSrc : path.resolve(here, '..', '..', '..', 'prompts');
}

export function parsePromptFile(file: string, source: string): Prompt {
  const fail = (why: string): never => {
    throw new Error(`prompt ${file}: ${why}`);
  };
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n([\s\S]*)$/.exec(source);
  if (!m) return fail('expected YAML front matter between --- lines');
  const fm = frontMatterSchema.safeParse(parseYaml(m[1] ?? ''));
  if (!fm.success) return fail(fm.error.issues.map((i) => `${i.path.join('.') || '(front matter)'}: ${i.message}`).join('; '));

  const sections = new Map<string, string>();
  let current: string | null = null;
  for (const line of (m[2] ?? '').split(/\r?\n/)) {
    const h = /^##\s+(\w+)\s*$/.exec(line);
    if (h) {
      current = (h[1] ?? '').toLowerCase();
      if (sections.has(current)) fail(`section "## ${current}" appears twice`);
      sections.set(current, '');
    } else if (current !== null) {
      sections.set(current, `${sections.get(current) ?? ''}${line}\n`);
    }
  }
  const section = (name: string): string => {
    const s = sections.get(name)?.trim();
    return s ? s : fail(`missing or empty "## ${name}" section`);
  };
  const system = section('system');
  const user = section('user');
  const templateSource = section('template');
  for (const name of sections.keys()) if (!['system', 'user', 'template'].includes(name)) fail(`unknown section "## ${name}"`);

  const placeholders = user.match(/\{\{[^}]*\}\}/g) ?? [];
  if (placeholders.length !== 1 || placeholders[0] !== '{{facts}}') fail('the user section must contain {{facts}} exactly once and no other {{…}}');

  let template: TemplateNode[] = [];
  try {
    template = parseTemplate(templateSource);
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const problems = templateProblems(fm.data.facts, template);
  if (problems.length > 0) fail(`template: ${problems.join('; ')}`);

  return {
    id: fm.data.id,
    version: fm.data.version,
    description: fm.data.description,
    facts: fm.data.facts,
    maxChars: fm.data.maxChars ?? null,
    system,
    user,
    template,
    file,
  };
}

export interface PromptRegistry {
  /** the version in use for `id` (pinned, else the highest); undefined when unknown */
  get(id: string): Prompt | undefined;
  ids(): string[];
}

/** Read every prompt file once (start-up): a broken prompt is a deploy error, not a chat error. */
export function loadPrompts(dir: string, pins: Readonly<Record<string, number>> = {}): PromptRegistry {
  const byId = new Map<string, Map<number, Prompt>>();
  for (const name of readdirSync(dir).sort()) {
    const m = FILE.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    const prompt = parsePromptFile(file, readFileSync(file, 'utf8'));
    if (prompt.id !== m[1] || prompt.version !== Number(m[2])) {
      throw new Error(`prompt ${file}: front matter says ${prompt.id} v${prompt.version}, the file name says ${m[1]} v${m[2]}`);
    }
    const versions = byId.get(prompt.id) ?? new Map<number, Prompt>();
    versions.set(prompt.version, prompt);
    byId.set(prompt.id, versions);
  }
  const chosen = new Map<string, Prompt>();
  for (const [id, versions] of byId) {
    const pin = pins[id];
    const v = pin ?? Math.max(...versions.keys());
    const p = versions.get(v);
    if (!p) throw new Error(`llm.prompts pins ${id} to v${v}, but ${dir} has only ${[...versions.keys()].map((x) => `v${x}`).join(', ')}`);
    chosen.set(id, p);
  }
  for (const id of Object.keys(pins)) if (!byId.has(id)) throw new Error(`llm.prompts pins "${id}", which has no file in ${dir}`);
  return {
    get: (id) => chosen.get(id),
    ids: () => [...chosen.keys()].sort(),
  };
}
