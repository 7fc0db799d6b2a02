import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  type APIApplicationCommandBasicOption,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { ArgSpec } from '../../kernel/commands/args.js';
import type { RegisteredCommand } from '../../kernel/commands/command.js';

/**
 * Kernel commands as Discord application commands, and back: the options a person fills in
 * become the same command line they could have typed ("/buy BTC/USDT 0.01 limit=41000"), so
 * every platform takes one path through the kernel's parser.
 *
 * Option types come from what an ArgSpec exposes (its usage hint): "number" → NUMBER,
 * "integer" → INTEGER, "symbol" → STRING with autocomplete, a hint "a|b|c" whose words the
 * argument accepts → STRING with those choices; everything else is STRING (the kernel parses
 * and explains it). Required options go first, as Discord demands; the line keeps the
 * command's own argument order.
 */

const MAX_COMMANDS = 100;
const MAX_OPTIONS = 25;
const MAX_CHOICES = 25;

export interface CommandMapping {
  body: RESTPostAPIChatInputApplicationCommandsJSONBody[];
  /** commands left out, and why (Discord allows 100 per scope) */
  skipped: Array<{ name: string; reason: string }>;
}

export function applicationCommands(cmds: readonly RegisteredCommand[]): CommandMapping {
  const body: RESTPostAPIChatInputApplicationCommandsJSONBody[] = [];
  const skipped: CommandMapping['skipped'] = [];
  for (const cmd of cmds) {
    if (body.length >= MAX_COMMANDS) {
      skipped.push({ name: cmd.spec.name, reason: `Discord allows ${MAX_COMMANDS} commands` });
      continue;
    }
    const options = Object.entries(cmd.spec.args ?? {}).map(([name, spec]) => option(name, spec));
    if (options.length > MAX_OPTIONS) {
      skipped.push({ name: cmd.spec.name, reason: `${options.length} arguments; Discord allows ${MAX_OPTIONS} options` });
      continue;
    }
    // stable sort: required first, otherwise the command's own order
    options.sort((a, b) => Number(b.required === true) - Number(a.required === true));
    body.push({ type: ApplicationCommandType.ChatInput, name: cmd.spec.name, description: clip(cmd.spec.summary, 100), options });
  }
  return { body, skipped };
}

/** Discord option names are lower-case; the kernel matches key=value names case-insensitively. */
export function optionName(argName: string): string {
  return argName
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .slice(0, 32);
}

function option(name: string, spec: ArgSpec<unknown>): APIApplicationCommandBasicOption {
  const o = spec.options;
  const base = { name: optionName(name), description: clip(o.description ?? o.hint, 100), required: o.required };
  if (o.hint === 'integer') return { ...base, type: ApplicationCommandOptionType.Integer };
  if (o.hint === 'number') return { ...base, type: ApplicationCommandOptionType.Number };
  if (o.hint === 'symbol') return { ...base, type: ApplicationCommandOptionType.String, autocomplete: true };
  const choices = choicesOf(spec);
  if (choices !== null) return { ...base, type: ApplicationCommandOptionType.String, choices: choices.map((c) => ({ name: c, value: c })) };
  return { ...base, type: ApplicationCommandOptionType.String };
}

/**
 * The words of an "a|b|c" hint, when they look like the argument's whole vocabulary: each word
 * parses and a word outside the list does not (a hint is free text, so a plain string argument
 * hinted "on|off" must not be narrowed to a menu).
 */
function choicesOf(spec: ArgSpec<unknown>): string[] | null {
  const words = spec.options.hint.split('|');
  if (words.length < 2 || words.length > MAX_CHOICES) return null;
  if (words.some((w) => w === '' || w.length > 100 || !spec.options.schema.safeParse(w).success)) return null;
  if (spec.options.schema.safeParse('zz-not-a-choice').success) return null;
  return words;
}

function clip(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ').trim() || '-';
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

/**
 * The command line for an invocation: provided options in the command's argument order,
 * positional while there is no gap, then key=value (a positional word after a skipped optional
 * argument would land in the wrong slot). A free-text (rest) argument ends the positional part.
 * Values are quoted when the kernel's tokenizer would otherwise split or misread them.
 */
export function commandLine(cmd: RegisteredCommand | undefined, name: string, given: ReadonlyArray<{ name: string; value?: unknown }>): string {
  if (cmd === undefined) return `/${name}`;
  const values = new Map(given.filter((g) => g.value !== undefined && g.value !== '').map((g) => [g.name, valueText(g.value)]));
  const parts = [`/${cmd.spec.name}`];
  let positional = true;
  for (const [arg, spec] of Object.entries(cmd.spec.args ?? {})) {
    const text = values.get(optionName(arg));
    if (text === undefined) {
      positional = false;
      continue;
    }
    if (!positional) parts.push(`${arg}=${quote(text)}`);
    else if (spec.options.rest) {
      const words = text.trim().split(/\s+/);
      parts.push(words.every((w) => !needsQuotes(w)) ? words.join(' ') : quote(text));
      positional = false;
    } else parts.push(quote(text));
  }
  return parts.join(' ');
}

function valueText(v: unknown): string {
  if (typeof v === 'number') return plainNumber(v);
  return String(v);
}

/** 1e-7 as 0.0000001: the kernel reads plain decimals only */
function plainNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const s = String(n);
  return /e/i.test(s) ? n.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 }) : s;
}

const KEY_LIKE = /^[a-zA-Z][a-zA-Z0-9_-]*=/;

function needsQuotes(word: string): boolean {
  return word === '' || /[\s"'“”‘’\\]/.test(word) || KEY_LIKE.test(word);
}

function quote(text: string): string {
  return needsQuotes(text) ? `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"` : text;
}
