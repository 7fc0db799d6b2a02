import { randomBytes } from 'node:crypto';
import type Keyv from 'keyv';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Guard } from './command.js';

/**
 * Guarded commands waiting for a confirm (same person) or an approval (another person).
 * Kept in the store so any instance can finish them; the stored form is the command line,
 * re-parsed when it runs, so nothing but plain data is persisted.
 */
const pendingSchema = z.object({
  token: z.string(),
  guard: z.enum(['confirm', 'four-eyes']),
  command: z.string(),
  argsText: z.string(),
  requester: z.object({
    platform: z.string(),
    userId: z.string(),
    person: z.string().nullable(),
    displayName: z.string(),
    roles: z.array(z.string()),
  }),
  channel: z.object({ platform: z.string(), channelId: z.string(), threadId: z.string().optional() }),
  messageId: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
});

export type PendingAction = z.infer<typeof pendingSchema>;

export class PendingActions {
  /** tokens being executed right now by this process, so a double click cannot run one twice */
  private readonly taking = new Set<string>();

  constructor(
    private readonly kv: Keyv,
    private readonly clock: Clock,
  ) {}

  async create(p: Omit<PendingAction, 'token' | 'createdAt' | 'expiresAt' | 'guard'>, guard: Guard, ttlMs: number): Promise<PendingAction> {
    const now = this.clock.now();
    const action: PendingAction = { ...p, guard, token: newToken(), createdAt: now, expiresAt: now + ttlMs };
    // the store TTL is a cleanup backstop; expiry is decided against the kernel clock
    await this.kv.set(`p:${action.token}`, action, ttlMs + 60_000);
    if (guard === 'confirm' && p.requester.person !== null) {
      await this.kv.set(`latest:${p.requester.person}`, action.token, ttlMs + 60_000);
    }
    return action;
  }

  /** the action if it exists and has not expired; expired ones are removed */
  async peek(token: string): Promise<PendingAction | undefined> {
    const raw: unknown = await this.kv.get(`p:${token.toLowerCase()}`);
    if (raw === undefined) return undefined;
    const parsed = pendingSchema.safeParse(raw);
    if (!parsed.success) return undefined;
    if (parsed.data.expiresAt <= this.clock.now()) {
      await this.kv.delete(`p:${parsed.data.token}`);
      return { ...parsed.data, expiresAt: -1 };
    }
    return parsed.data;
  }

  /** the newest unexpired confirm of this person, for a bare `/confirm` or a "yes" reply */
  async latestConfirmOf(person: string): Promise<PendingAction | undefined> {
    const token: unknown = await this.kv.get(`latest:${person}`);
    return typeof token === 'string' ? this.peek(token) : undefined;
  }

  /** single use: true for exactly one caller per token in this process */
  async take(token: string): Promise<boolean> {
    if (this.taking.has(token)) return false;
    this.taking.add(token);
    try {
      return await this.kv.delete(`p:${token}`);
    } finally {
      this.taking.delete(token);
    }
  }
}

function newToken(): string {
  // 6 chars of a-z0-9 without look-alikes; short enough to type in a chat
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(6);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}
