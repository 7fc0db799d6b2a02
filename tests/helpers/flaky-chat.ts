import type { AdapterHealth, ChatAdapter } from '../../src/kernel/adapters.js';
import type { Channel } from '../../src/kernel/auth/principal.js';
import type { Reply } from '../../src/kernel/reply.js';

/**
 * A chat platform for drills, implementing our own ChatAdapter interface: it takes every post, or
 * answers the way a platform in an outage does (an HTTP 503) — for the next `failNext(n)` posts,
 * or until `up()`. Channels listed in `refuse` always fail (the bot was removed from them).
 */
export class FlakyChat implements ChatAdapter {
  /** what the platform took, in order */
  readonly delivered: Array<{ channel: Channel; reply: Reply }> = [];
  /** every call to post(), taken or not */
  attempts = 0;
  private failuresLeft = 0;
  readonly refuse = new Set<string>();

  constructor(readonly platform: string) {}

  /** every post fails with a 503 until up() */
  down(): void {
    this.failuresLeft = Number.POSITIVE_INFINITY;
  }

  up(): void {
    this.failuresLeft = 0;
  }

  /** the next n posts fail, then it works */
  failNext(n: number): void {
    this.failuresLeft = n;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async post(channel: Channel, reply: Reply): Promise<void> {
    this.attempts++;
    if (this.refuse.has(channel.channelId)) throw new Error(`${this.platform}: 403 Forbidden: bot is not a member of ${channel.channelId}`);
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error(`${this.platform}: 503 Service Unavailable`);
    }
    this.delivered.push({ channel, reply });
  }

  health(): AdapterHealth {
    return { connected: this.failuresLeft === 0, detail: this.failuresLeft === 0 ? 'up' : 'answering 503' };
  }

  /** the first text block of each delivered post, in order */
  texts(channelId?: string): string[] {
    return this.delivered
      .filter((p) => channelId === undefined || p.channel.channelId === channelId)
      .map((p) => {
        const first = p.reply.blocks.find((b) => b.type === 'text');
        return first?.type === 'text' ? first.text : '';
      });
  }
}
