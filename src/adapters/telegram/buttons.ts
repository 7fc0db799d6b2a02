import { randomBytes } from 'node:crypto';

/** Telegram's limit on an inline button's callback_data, in bytes */
export const CALLBACK_DATA_MAX_BYTES = 64;
const TOKEN_PREFIX = '~';

/**
 * callback_data for a button's command. A command that fits the 64-byte limit travels as itself
 * (so buttons keep working across a restart); a longer one is kept here and the button carries
 * a short random token. The map is bounded: the oldest tokens go first, and a press on one that
 * is gone is answered "expired" rather than guessed.
 */
export class ButtonCommands {
  private readonly byToken = new Map<string, string>();

  constructor(private readonly capacity = 5_000) {}

  dataFor(command: string): string {
    if (command.startsWith('/') && Buffer.byteLength(command, 'utf8') <= CALLBACK_DATA_MAX_BYTES) return command;
    const token = `${TOKEN_PREFIX}${randomBytes(9).toString('base64url')}`;
    this.byToken.set(token, command);
    if (this.byToken.size > this.capacity) {
      const oldest = this.byToken.keys().next().value;
      if (oldest !== undefined) this.byToken.delete(oldest);
    }
    return token;
  }

  /** the command a pressed button runs, or undefined when its token is unknown (expired, restarted) */
  commandFor(data: string): string | undefined {
    if (data.startsWith('/')) return data;
    return this.byToken.get(data);
  }
}
