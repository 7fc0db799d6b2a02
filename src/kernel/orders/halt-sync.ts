import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Broadcast } from '../store.js';
import type { OrderGateway } from './gateway.js';

const TOPIC = 'halt';
const messageSchema = z.object({ from: z.string(), by: z.string(), reason: z.string() });

/**
 * A halt on any instance closes every instance's gateway: the halting instance publishes it (Redis
 * pub/sub in Redis mode) and the others close at once and cancel their own open orders. The
 * persisted halt stays the source of truth — every order reads it — so after a reconnect or a
 * lost message nothing can be placed; the message only makes the others stop without waiting.
 */
export async function syncHalts(d: { broadcast: Broadcast; gateway: OrderGateway; logger: Logger }): Promise<() => Promise<void>> {
  const me = randomUUID();
  const off = d.gateway.onHalt((h) => {
    if (h.peer) return;
    d.broadcast.publish(TOPIC, JSON.stringify({ from: me, by: h.by, reason: h.reason })).catch((err: unknown) => d.logger.warn({ err }, 'halt not broadcast; other instances see it on their next order'));
  });
  const unsubscribe = await d.broadcast.subscribe(TOPIC, (raw) => {
    let parsed: z.output<typeof messageSchema>;
    try {
      parsed = messageSchema.parse(JSON.parse(raw));
    } catch {
      d.logger.warn('unreadable halt broadcast ignored');
      return;
    }
    if (parsed.from === me) return;
    d.gateway
      .peerHalted(parsed.by, parsed.reason)
      .then((r) => d.logger.warn({ by: parsed.by, reason: parsed.reason, cancelled: r.cancelled.length }, 'halted by another instance'))
      .catch((err: unknown) => d.logger.error({ err }, 'cancelling after a peer halt failed'));
  });
  return async () => {
    off();
    await unsubscribe();
  };
}
