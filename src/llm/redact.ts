import { MIN_SCRUB_LENGTH } from '../kernel/logger.js';
import type { Facts } from './facts.js';

/**
 * What leaves the process is scrubbed first: every secret value (Secrets.values()), anything
 * shaped like a credential (a key pasted into chat), e-mail
 * addresses, phone numbers, chat mentions and the platform user ids the desk knows. Applied to
 * every string in the facts (labels and quoted chat text); numbers and symbols cannot hold them.
 */

export const REDACTED = {
  secret: '[secret]',
  email: '[email]',
  phone: '[phone]',
  user: '[user]',
} as const;

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
// International (+44 20 7946 0958, +15551234567) or grouped local numbers (555-123-4567,
// (020) 7946 0958). A plain price like 31706.33 has no such grouping and is left alone.
const PHONE = /(?<![\w.])(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,4}|(?:\(\d{2,4}\)\s?|\d{3}[\s-])\d{3,4}[\s-]\d{3,4})(?![\w.])/g;
// Credentials someone pastes into chat that are not this desk's own secrets: known key shapes
// (OpenAI sk-…, Slack xox?-/xapp-, GitHub gh?_, AWS AKIA…, Telegram bot tokens) and any long
// token mixing letters and digits (32+ characters: API keys, secrets, JWT parts).
const KEY_SHAPED =
  /(?:sk-(?:proj-)?[A-Za-z0-9_-]{16,}|xox[abposr]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|\d{8,10}:[A-Za-z0-9_-]{30,}|(?<![A-Za-z0-9_\-])(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{32,}(?![A-Za-z0-9_\-]))/g;
// Slack <@U123> / <#C123|name> / <!here>, Discord <@123>, <@!123>, <#123>, <@&123>
const MENTION = /<[@#!][!&]?[A-Za-z0-9|._-]*>/g;

export interface Redactor {
  text(s: string): string;
  facts(f: Facts): Facts;
  /** secret values (in the forms they can take in a JSON body) still present in `body`, if any */
  leaks(body: string): boolean;
}

export function createRedactor(opts: { secrets: readonly string[]; personalIds: readonly string[] }): Redactor {
  // Longest first so a value containing another is replaced whole.
  const secrets = [...new Set(opts.secrets.filter((s) => s.length >= MIN_SCRUB_LENGTH))].sort((a, b) => b.length - a.length);
  // Short ids ("42") would mangle ordinary numbers; ids are matched as whole tokens only.
  const ids = [...new Set(opts.personalIds.filter((s) => s.length >= 3))].sort((a, b) => b.length - a.length);
  const idRe = ids.length > 0 ? new RegExp(`(?<![A-Za-z0-9_])(?:${ids.map(escapeRegExp).join('|')})(?![A-Za-z0-9_])`, 'g') : null;
  const leakForms = secrets.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);

  const text = (s: string): string => {
    let out = s;
    for (const secret of secrets) out = out.split(secret).join(REDACTED.secret);
    out = out.replace(KEY_SHAPED, REDACTED.secret);
    out = out.replace(MENTION, REDACTED.user).replace(EMAIL, REDACTED.email).replace(PHONE, REDACTED.phone);
    if (idRe) out = out.replace(idRe, REDACTED.user);
    return out;
  };
  const record = (r: Record<string, string> | undefined): Record<string, string> | undefined =>
    r === undefined ? undefined : Object.fromEntries(Object.entries(r).map(([k, v]) => [k, text(v)]));

  return {
    text,
    facts: (f) => ({
      numbers: f.numbers,
      symbols: f.symbols,
      ...(f.text !== undefined ? { text: record(f.text) } : {}),
      ...(f.quoted !== undefined ? { quoted: record(f.quoted) } : {}),
    }),
    leaks: (body) => leakForms.some((form) => body.includes(form)),
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
