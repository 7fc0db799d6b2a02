import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, stringify } from 'yaml';
import { z } from 'zod';
import { configSchema, effectiveStoreKind, type DeskbotConfig } from './schema.js';
import {
  FIXED_SECRET_ENVS,
  looksLikeSecretKey,
  maskRedisUrl,
  readSecrets,
  redisUrlPassword,
  suggestSecretEnv,
  type Secrets,
} from './secrets.js';

/**
 * Loads the config file, applies env overrides, validates, and returns errors as values:
 * the CLI prints them and exits, tests assert on them, nothing throws past this function.
 * Every problem is one line: `<file or env var>: <field path>: <what was expected>`.
 */

export type ConfigResult =
  | { ok: true; config: DeskbotConfig; source: string; secrets: Secrets }
  | { ok: false; error: string };

export interface LoadConfigOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** the embedded default's path; tests override it, otherwise found from this module's location */
  defaultPath?: string;
}

type Path = readonly PropertyKey[];
interface Finding {
  path: Path;
  what: string;
}

const SECRETS_DOC = 'docs/configuration.md';

/** Env var → the field it overrides. Applied after reading the file, before validation. */
const ENV_OVERRIDES: readonly { env: string; path: readonly string[] }[] = [
  { env: 'DESKBOT_DATA_DIR', path: ['dataDir'] },
  // replicas of one config tell themselves apart (logs, /status, metrics)
  { env: 'DESKBOT_INSTANCE', path: ['instance'] },
  { env: 'REDIS_URL', path: ['redis', 'url'] },
  { env: 'DESKBOT_LOG_LEVEL', path: ['log', 'level'] },
  { env: 'DESKBOT_AS', path: ['console', 'as'] },
  { env: 'DESKBOT_MARKET_DIR', path: ['market', 'dir'] },
  { env: 'DESKBOT_REPLAY_TIME', path: ['market', 'replayTime'] },
];

export function loadConfig(opts: LoadConfigOptions): ConfigResult {
  const { env, cwd } = opts;
  const secrets = readSecrets(env);

  // 1. Which file.
  const named = nonEmpty(env.DESKBOT_CONFIG);
  const file = named !== undefined ? resolve(cwd, named) : (opts.defaultPath ?? defaultConfigPath());
  if (file === undefined) {
    return fail(['config/default.yaml: cannot find the embedded default next to package.json; set DESKBOT_CONFIG']);
  }
  const label = displayPath(file, cwd);
  const fileHint = named !== undefined ? ` (DESKBOT_CONFIG=${named})` : '';

  // 2. Read and parse YAML.
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code ?? String(err)})`;
    return fail([`${label}: ${why}${fileHint}`]);
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    return fail(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const where = pos ? `line ${pos.line}, column ${pos.col}: ` : '';
        return `${label}: ${where}YAML syntax error: ${yamlMessage(e.message)}`;
      }),
    );
  }
  const parsed: unknown = doc.toJS() ?? {}; // an empty file means "all defaults"
  if (!isPlainObject(parsed)) {
    return fail([`${label}: expected a mapping of settings at the top level, got ${show(parsed)}`]);
  }

  // 3. Secrets in the file are refused before anything else looks at it.
  const secretFindings = findSecretsInFile(parsed);
  const secretPaths = secretFindings.map((f) => f.path);
  const lines = secretFindings.map((f) => `${label}: ${formatPath(f.path)}: ${f.what}`);

  // 4. Env overrides, remembering which fields they set so errors name the env var, not the file.
  const raw = structuredClone(parsed);
  const overridden = new Map<string, string>();
  for (const o of ENV_OVERRIDES) {
    const value = nonEmpty(env[o.env]);
    if (value !== undefined && setIn(raw, o.path, value)) overridden.set(pathKey(o.path), o.env);
  }
  const sourceOf = (path: Path): string => {
    const envName = overridden.get(pathKey(path));
    return envName ?? label;
  };
  const scrub = scrubber(secrets);

  // 5. Schema.
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      for (const f of explainIssue(issue, [])) {
        if (suppressedBySecret(f, secretPaths)) continue;
        lines.push(scrub(`${sourceOf(f.path)}: ${formatPath(f.path)}: ${f.what}`));
      }
    }
    return fail(lines);
  }
  if (lines.length > 0) return fail(lines);

  // 6. Checks that span fields.
  const config = result.data;
  for (const f of crossFieldFindings(config)) lines.push(scrub(`${sourceOf(f.path)}: ${formatPath(f.path)}: ${f.what}`));
  if (lines.length > 0) return fail(lines);

  return { ok: true, config, source: label, secrets };
}

function fail(lines: string[]): ConfigResult {
  return { ok: false, error: lines.join('\n') };
}

// ---------------------------------------------------------------------------------------------
// Locating the embedded default

/**
 * config/default.yaml of this package. Found by walking up from this module, not from cwd, so
 * `deskbot` works from any directory and from dist/ (dist/src/kernel/config → the package root).
 */
export function defaultConfigPath(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = join(dir, 'config', 'default.yaml');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Relative to cwd when the file is inside it (what the operator typed), absolute otherwise. */
function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split('\\').join('/') : file;
}

// ---------------------------------------------------------------------------------------------
// Secrets in config files

function findSecretsInFile(root: Record<string, unknown>): Finding[] {
  const found: Finding[] = [];
  const walk = (value: unknown, path: PropertyKey[]): void => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, [...path, i]));
      return;
    }
    if (!isPlainObject(value)) return;
    for (const [key, v] of Object.entries(value)) {
      const here = [...path, key];
      if (looksLikeSecretKey(key)) {
        // Refused whatever the value: even a placeholder invites someone to fill it in.
        const envName = suggestSecretEnv(here.map(String));
        const fix = envName !== undefined ? `set ${envName} in the environment` : `use the environment variables listed in ${SECRETS_DOC}`;
        found.push({ path: here, what: `secrets are not allowed in config files; ${fix}` });
      } else {
        walk(v, here);
      }
    }
  };
  walk(root, []);

  const redis = root.redis;
  const url = isPlainObject(redis) ? redis.url : undefined;
  if (typeof url === 'string' && redisUrlPassword(url) !== undefined) {
    found.push({
      path: ['redis', 'url'],
      what: 'secrets are not allowed in config files: this URL contains a password; put the whole URL in REDIS_URL in the environment',
    });
  }
  return found;
}

/**
 * A secret key is usually also an unknown field (e.g. `adapters:`); one line about the secret
 * says all that matters, so schema complaints about the same spot are dropped.
 */
function suppressedBySecret(f: Finding, secretPaths: readonly Path[]): boolean {
  return secretPaths.some((s) => isPrefix(s, f.path) || (f.what.startsWith('unknown field') && isPrefix(f.path, s)));
}

function isPrefix(prefix: Path, path: Path): boolean {
  return prefix.length <= path.length && prefix.every((p, i) => String(p) === String(path[i]));
}

// ---------------------------------------------------------------------------------------------
// Env overrides

/** Sets path in obj, creating missing mappings; gives up (false) where the file has a non-mapping, so the schema reports that. */
function setIn(obj: Record<string, unknown>, path: readonly string[], value: string): boolean {
  let node = obj;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    } else if (isPlainObject(next)) {
      node = next;
    } else {
      return false;
    }
  }
  const last = path[path.length - 1];
  if (last === undefined) return false;
  node[last] = value;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Turning zod issues into one-line findings

function explainIssue(issue: z.core.$ZodIssue, base: Path): Finding[] {
  const path = [...base, ...issue.path];
  const one = (what: string): Finding[] => [{ path, what }];
  const got = `got ${show(issue.input)}`;

  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return one(`missing; expected ${typeName(issue.expected)}`);
      return one(`expected ${typeName(issue.expected)}, ${got}`);
    case 'invalid_value':
      if (issue.values.length === 1) return one(`expected ${show(issue.values[0])}, ${got}`);
      return one(`expected one of ${issue.values.map(show).join(', ')}, ${got}`);
    case 'invalid_format': {
      // Schema authors write the expectation as the message ('a permission like …'); zod's own start with "Invalid".
      const custom = !issue.message.startsWith('Invalid');
      const expected = custom ? issue.message : issue.format === 'regex' ? `a string matching ${issue.pattern ?? 'the pattern'}` : `a valid ${issue.format}`;
      return one(`expected ${expected}, ${got}`);
    }
    case 'too_small':
      return one(`${sizeExpectation(issue.origin, issue.minimum, issue.inclusive !== false, 'min')}, ${gotSize(issue.origin, issue.input)}`);
    case 'too_big':
      return one(`${sizeExpectation(issue.origin, issue.maximum, issue.inclusive !== false, 'max')}, ${gotSize(issue.origin, issue.input)}`);
    case 'not_multiple_of':
      return one(`expected a multiple of ${issue.divisor}, ${got}`);
    case 'unrecognized_keys': {
      const known = knownKeysAt(configSchema, path);
      const list = known.length > 0 ? ` (known: ${known.join(', ')})` : '';
      return issue.keys.map((key) => ({ path: [...path, key], what: `unknown field${list}` }));
    }
    case 'invalid_key': {
      const inner = issue.issues[0];
      const detail = inner ? (explainIssue(inner, [])[0]?.what ?? inner.message) : issue.message;
      return one(`invalid name: ${detail}`);
    }
    case 'invalid_union':
      return explainUnion(issue, path);
    default:
      return one(issue.message);
  }
}

/**
 * A union fails once per branch. If the input had the right shape for exactly one branch and
 * failed inside it, that branch's complaint is the useful one; otherwise list what was accepted.
 */
function explainUnion(issue: z.core.$ZodIssueInvalidUnion, path: Path): Finding[] {
  const branches = issue.errors;
  const shapeMismatch = (errs: z.core.$ZodIssue[]): boolean => errs.length > 0 && errs.every((e) => e.code === 'invalid_type' && e.path.length === 0);
  const deeper = branches.filter((errs) => !shapeMismatch(errs));
  if (deeper.length === 1 && deeper[0]) return deeper[0].flatMap((e) => explainIssue(e, path));
  const expected = branches.flatMap((errs) => errs.flatMap((e) => (e.code === 'invalid_type' ? [typeName(e.expected)] : [])));
  if (expected.length > 0) return [{ path, what: `expected ${[...new Set(expected)].join(' or ')}, got ${show(issue.input)}` }];
  return [{ path, what: `${issue.message}, got ${show(issue.input)}` }];
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
    object: 'a mapping',
    record: 'a mapping',
    array: 'a list',
    null: 'null',
  };
  return names[expected] ?? expected;
}

function sizeExpectation(origin: string, bound: number | bigint, inclusive: boolean, side: 'min' | 'max'): string {
  const n = Number(bound);
  if (origin === 'string') {
    if (side === 'min' && n === 1) return 'expected a non-empty string';
    return `expected ${side === 'min' ? 'at least' : 'at most'} ${n} characters`;
  }
  if (origin === 'array' || origin === 'set') {
    if (side === 'min' && n === 1) return 'expected at least one item';
    return `expected ${side === 'min' ? 'at least' : 'at most'} ${n} items`;
  }
  const op = side === 'min' ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
  return `expected a number ${op} ${n}`;
}

function gotSize(origin: string, input: unknown): string {
  if (Array.isArray(input) && (origin === 'array' || origin === 'set')) return `got ${input.length}`;
  if (typeof input === 'string' && origin === 'string' && input.length > 0) return `got ${input.length} (${show(input)})`;
  return `got ${show(input)}`;
}

/** The field names the schema allows at a path, for "unknown field (known: …)". */
function knownKeysAt(schema: z.core.$ZodType, path: Path): string[] {
  let node: z.core.$ZodType | undefined = schema;
  for (const key of path) {
    node = node === undefined ? undefined : childOf(unwrapSchema(node), key);
  }
  const target = node === undefined ? undefined : unwrapSchema(node);
  return target instanceof z.ZodObject ? Object.keys(target.shape) : [];
}

function unwrapSchema(t: z.core.$ZodType): z.core.$ZodType {
  let node = t;
  for (;;) {
    if (node instanceof z.ZodDefault || node instanceof z.ZodOptional || node instanceof z.ZodNullable) node = node.unwrap();
    else return node;
  }
}

function childOf(t: z.core.$ZodType, key: PropertyKey): z.core.$ZodType | undefined {
  if (t instanceof z.ZodObject) return typeof key === 'string' ? (t.shape as Record<string, z.core.$ZodType>)[key] : undefined;
  if (t instanceof z.ZodRecord) return t.valueType;
  if (t instanceof z.ZodArray) return t.element;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Cross-field checks (after the schema, on typed config)

function crossFieldFindings(config: DeskbotConfig): Finding[] {
  const out: Finding[] = [];
  const roleNames = Object.keys(config.roles);
  const personIds = Object.keys(config.people);

  for (const [id, person] of Object.entries(config.people)) {
    person.roles.forEach((role, i) => {
      if (!Object.hasOwn(config.roles, role)) {
        out.push({ path: ['people', id, 'roles', i], what: `role ${show(role)} is not defined in roles (defined: ${listOrNone(roleNames)})` });
      }
    });
  }
  // Only when the terminal is on: a chat-only deployment need not have an "operator" person.
  if (config.console.enabled && !Object.hasOwn(config.people, config.console.as)) {
    out.push({ path: ['console', 'as'], what: `${show(config.console.as)} is not a person in people (known: ${listOrNone(personIds)})` });
  }
  if (config.store.kind === 'redis' && config.redis.url === null) {
    out.push({ path: ['store', 'kind'], what: '"redis" needs a Redis URL: set REDIS_URL in the environment (or redis.url, without a password)' });
  }
  return out;
}

function listOrNone(names: string[]): string {
  return names.length > 0 ? names.join(', ') : 'none';
}

// ---------------------------------------------------------------------------------------------
// describeConfig: what `deskbot check-config` prints

/** The effective config as YAML plus which secrets are set; never a secret value. */
export function describeConfig(config: DeskbotConfig, secrets: Secrets): string {
  const shown = structuredClone(config);
  if (shown.redis.url !== null) shown.redis.url = maskRedisUrl(shown.redis.url);

  const status: Record<string, string> = {};
  const set = new Set(secrets.names());
  for (const name of FIXED_SECRET_ENVS) status[name] = set.has(name) ? 'set (****)' : 'not set';
  const exchangeNames = [...set].filter((n) => !FIXED_SECRET_ENVS.includes(n)).sort();
  for (const name of exchangeNames) status[name] = 'set (****)';
  if (exchangeNames.length === 0) status['EXCHANGE_<ID>_API_KEY/_SECRET/_PASSWORD'] = 'none set';

  // show what `auto` resolves to, since that is what the desk will run on
  const kind = shown.store.kind === 'auto' ? `auto (${effectiveStoreKind(config)})` : shown.store.kind;
  const text = stringify({ ...shown, store: { ...shown.store, kind }, secrets: status }, { lineWidth: 0 });
  // Belt and braces: a secret value that reached the config some other way is still masked.
  return scrubber(secrets)(text);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Masks secret values in text shown to a terminal. Very short values are skipped (would mangle words). */
function scrubber(secrets: Secrets): (text: string) => string {
  const values = secrets
    .values()
    .filter((v) => v.length >= 6)
    .sort((a, b) => b.length - a.length);
  return (text) => values.reduce((acc, v) => acc.split(v).join('****'), text);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** yaml's messages end with " at line L, column C:" and a code excerpt; we print the position ourselves. */
function yamlMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, '');
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** roles.trader[1], people["Bob Smith"].name */
export function formatPath(path: Path): string {
  if (path.length === 0) return '(top level)';
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else {
      const key = String(p);
      out += IDENT.test(key) ? (out === '' ? key : `.${key}`) : `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

function pathKey(path: Path): string {
  return path.map(String).join('\u0000');
}
