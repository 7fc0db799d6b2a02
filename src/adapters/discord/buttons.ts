import { randomBytes } from 'node:crypto';

/**
 * Button custom_ids are short random tokens mapped to the command the button runs ("/confirm
 * k3x9"): the id Discord echoes back on a press never carries command text, and a token that
 * is unknown (expired, or from before a restart) is refused instead of guessed. Bounded in size
 * and age; the kernel's own confirm timeout is far shorter than the age limit.
 */
export class ButtonTokens {
  private readonly byToken = new Map<string, { command: string; at: number }>();

  constructor(
    private readonly ttlMs = 24 * 3_600_000,
    private readonly max = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** a custom_id for a button that runs `command` */
  idFor(command: string): string {
    this.sweep();
    const token = randomBytes(9).toString('base64url');
    this.byToken.set(token, { command, at: this.now() });
    return `dk:${token}`;
  }

  /** the command of a pressed button, or undefined when the id is not one of ours or has expired */
  commandFor(customId: string): string | undefined {
    if (!customId.startsWith('dk:')) return undefined;
    const hit = this.byToken.get(customId.slice(3));
    if (hit === undefined || this.now() - hit.at > this.ttlMs) return undefined;
    return hit.command;
  }

  get size(): number {
    return this.byToken.size;
  }

  private sweep(): void {
    const cutoff = this.now() - this.ttlMs;
    // insertion order is age order: drop from the front
    for (const [token, v] of this.byToken) {
      if (v.at >= cutoff && this.byToken.size < this.max) break;
      this.byToken.delete(token);
    }
  }
}
