import { inspect } from 'node:util';
import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from 'pino';

const ORDER: Record<LogLevel, number> = { [LogLevel.DEBUG]: 0, [LogLevel.INFO]: 1, [LogLevel.WARN]: 2, [LogLevel.ERROR]: 3 };

/**
 * Bolt's and the WebClient's logger interface on top of the desk's pino logger, so their lines
 * (rate-limit waits, rejected signatures, socket reconnects) land in the same log. Bolt sets
 * its own level (info by default) and we honour it: its debug lines include request bodies.
 * Every secret value is masked here too, before pino's own scrub, since Bolt builds its
 * messages as free text where no field name marks a secret.
 */
export function slackLogger(log: Logger, secrets: readonly string[]): SlackLogger {
  let level: LogLevel = LogLevel.INFO;
  const masks = secrets.filter((s) => s.length >= 6);
  const text = (parts: unknown[]): string => {
    let s = parts.map((p) => (typeof p === 'string' ? p : inspect(p, { depth: 3, breakLength: Infinity }))).join(' ');
    for (const m of masks) s = s.split(m).join('[REDACTED]');
    return s;
  };
  const at =
    (l: LogLevel, write: (msg: string) => void) =>
    (...parts: unknown[]): void => {
      if (ORDER[l] >= ORDER[level]) write(text(parts));
    };
  return {
    debug: at(LogLevel.DEBUG, (m) => log.debug(m)),
    info: at(LogLevel.INFO, (m) => log.info(m)),
    warn: at(LogLevel.WARN, (m) => log.warn(m)),
    error: at(LogLevel.ERROR, (m) => log.error(m)),
    setLevel(l: LogLevel): void {
      level = l;
    },
    getLevel(): LogLevel {
      return level;
    },
    setName(): void {},
  };
}
