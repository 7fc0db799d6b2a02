import { pino, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

/**
 * The process logger. JSON lines by default (what log shippers want); pretty for a human at a
 * terminal. Two layers keep secrets out: pino `redact` for fields known to hold secrets, and a
 * final scrub of every known secret value in the written text, which catches secrets that end
 * up inside strings (an error message, a URL, a stack trace) where no field name gives them away.
 */

export interface LoggerOptions {
  level: string;
  /** "stderr" or a file path (resolved by the caller, e.g. against dataDir) */
  destination: string;
  pretty: 'auto' | 'always' | 'never';
  /** secret values to scrub from output, e.g. `Secrets.values()` */
  secrets: string[];
  /** write here instead of stderr/the file (tests) */
  stream?: NodeJS.WritableStream;
}

export const REDACT_CENSOR = '[REDACTED]';
export const SCRUB_MASK = '[REDACTED]';

/**
 * Values shorter than this are not scrubbed: replacing a 3-letter "secret" everywhere would
 * mangle ordinary words and numbers in every line, and such values are not real credentials.
 */
export const MIN_SCRUB_LENGTH = 6;

const SECRET_FIELDS = ['token', 'secret', 'password', 'apiKey', 'api_key', 'authorization', 'accessToken', 'privateKey', 'botToken', 'appToken', 'signingSecret'];

/** fast-redact wildcards match one level only, so each field is listed top-level and one level down. */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'config.secrets',
  '*.config.secrets',
];

export function createLogger(opts: LoggerOptions): Logger {
  const toTerminal = opts.destination === 'stderr';
  const target: DestinationStream = opts.stream ?? (toTerminal ? pino.destination({ dest: 2, sync: true }) : pino.destination({ dest: opts.destination, sync: true, mkdir: true }));
  // Sync destinations: a crash or process.exit() must not swallow the last lines, which are the ones that matter.

  const isTTY = opts.stream !== undefined ? isTty(opts.stream) : toTerminal && process.stderr.isTTY === true;
  const pretty = opts.pretty === 'always' || (opts.pretty === 'auto' && toTerminal && isTTY);

  const scrub = secretScrubber(opts.secrets);
  return pino(
    {
      level: opts.level,
      redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
      // streamWrite sees the final JSON line of every logger and child, before pretty-printing.
      ...(scrub ? { hooks: { streamWrite: scrub } } : {}),
    },
    pretty ? prettyStream(target, isTTY) : target,
  );
}

/**
 * pino-pretty's formatter called inline, not as a worker transport: the line is formatted and
 * written in the same call, so nothing is buffered in another thread and lost on exit.
 */
function prettyStream(target: DestinationStream, colorize: boolean): DestinationStream {
  const format = pinoPretty.prettyFactory({ colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  return {
    write(line: string): void {
      target.write(format(line));
    },
  };
}

/**
 * Replaces each secret value, in the forms it can take in a JSON line: as is, JSON-escaped
 * (quotes/backslashes inside the secret) and URL-encoded (a password inside a URL).
 * Returns undefined when there is nothing to scrub, so the hook costs nothing.
 */
export function secretScrubber(secrets: readonly string[]): ((text: string) => string) | undefined {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SCRUB_LENGTH) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
    forms.add(encodeURIComponent(s));
    forms.add(JSON.stringify(encodeURIComponent(s)).slice(1, -1));
  }
  if (forms.size === 0) return undefined;
  // Longest first so a secret containing another secret is replaced whole.
  const alternatives = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const re = new RegExp(alternatives.join('|'), 'g');
  return (text) => text.replace(re, SCRUB_MASK);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isTty(stream: NodeJS.WritableStream): boolean {
  return (stream as NodeJS.WritableStream & { isTTY?: boolean }).isTTY === true;
}
