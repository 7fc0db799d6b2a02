import type { Logger } from 'pino';

/**
 * Events plugins publish and listen to. Plugins add their own by declaration merging:
 *   declare module 'deskbot/kernel' { interface KernelEvents { 'regime.changed': RegimeChange } }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface KernelEvents {
  'halt.changed': { halted: boolean; by?: string; reason?: string; since?: string };
  'kernel.ready': { plugins: string[] };
  'kernel.stopping': Record<string, never>;
  /** an exchange's market-data circuit changed: open after repeated failures, half-open on a trial, closed again */
  'market.circuit': { exchange: string; state: 'closed' | 'open' | 'half-open'; retryAt: number | null };
  /** every journaled order change (after it is stored) */
  'order.updated': import('./orders/types.js').Order;
}

type Listener<T> = (payload: T) => void | Promise<void>;

/**
 * A small typed bus. A listener that throws or rejects is logged and does not stop the
 * others or the emitter: one plugin's bug must not take the desk down.
 */
export class EventBus {
  private readonly listeners = new Map<string, Set<Listener<unknown>>>();

  constructor(private readonly logger: Logger) {}

  on<K extends keyof KernelEvents>(event: K, fn: Listener<KernelEvents[K]>): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(fn as Listener<unknown>);
    this.listeners.set(event, set);
    return () => set.delete(fn as Listener<unknown>);
  }

  /** Resolves when every listener has finished (or failed). */
  async emit<K extends keyof KernelEvents>(event: K, payload: KernelEvents[K]): Promise<void> {
    const set = this.listeners.get(event);
    if (!set || set.size === 0) return;
    await Promise.all(
      [...set].map(async (fn) => {
        try {
          await fn(payload);
        } catch (err) {
          this.logger.error({ err, event }, 'event listener failed');
        }
      }),
    );
  }
}
