import type Keyv from 'keyv';
import { z } from 'zod';
import { block, type Block } from '../reply.js';
import type { Broker, BrokerKind, Order } from './types.js';

/** What a live broker can say about the exchange compared with our journal. */
export interface Reconciliation {
  missingAtExchange: Order[];
  unknownAtExchange: Array<{ clientOrderId?: string; exchangeOrderId: string; symbol: string }>;
  balances: Array<{ currency: string; total: number }>;
}

export interface LiveBroker extends Broker {
  reconcile(journalOpen: Order[]): Promise<Reconciliation>;
}

export interface LiveSwitchDeps {
  kv: Keyv;
  mode: BrokerKind;
  paper: () => Broker;
  /** builds the live broker (reads the exchange keys from the environment); throws a clear error when it cannot */
  createLive: () => Promise<LiveBroker>;
  exchange: string;
  sandbox: boolean;
  journalOpen: () => Promise<Order[]>;
  audit: { append(event: { kind: string; [field: string]: unknown }): unknown };
  clock: { now(): number };
}

const armedSchema = z.object({ armed: z.boolean(), by: z.string(), approvedBy: z.string().nullable(), at: z.string() });
const ARMED_KEY = 'live:armed';

/**
 * Which broker orders go to. Paper mode: always the paper broker. Live mode: nothing until an
 * admin arms it from chat with a second admin's approval (`/live on`); arming builds the ccxt
 * broker from the environment's keys and reconciles the journal with the exchange first. The
 * armed state is persisted, so a restart re-arms and reconciles again.
 */
export class LiveSwitch {
  private live: LiveBroker | undefined;
  private armed: z.output<typeof armedSchema> | null = null;
  /** the last reconciliation, for /live status and the start-up report */
  lastReconciliation: Reconciliation | null = null;

  constructor(private readonly d: LiveSwitchDeps) {}

  /** at start-up: re-arm if it was armed, reconciling with the exchange */
  async init(): Promise<string | null> {
    if (this.d.mode !== 'live') return null;
    const raw: unknown = await this.d.kv.get(ARMED_KEY);
    const parsed = armedSchema.safeParse(raw);
    if (!parsed.success || !parsed.data.armed) return 'live trading is configured but not armed (an admin runs /live on)';
    try {
      this.live = await this.d.createLive();
      this.lastReconciliation = await this.live.reconcile(await this.d.journalOpen());
      this.armed = parsed.data;
      return `live trading re-armed (armed by ${parsed.data.by}); ${summarise(this.lastReconciliation)}`;
    } catch (err) {
      this.live = undefined;
      return `live trading was armed but could not start: ${err instanceof Error ? err.message : String(err)}; orders are refused`;
    }
  }

  /** the broker for the next order, or why there is none */
  current(): Broker | { refused: string } {
    if (this.d.mode === 'paper') return this.d.paper();
    if (this.live && this.armed?.armed) return this.live;
    return { refused: 'live trading is configured but not armed: an admin runs /live on (a second admin approves)' };
  }

  async arm(by: string, approvedBy: string | null): Promise<{ ok: boolean; message: string; report?: Block }> {
    if (this.d.mode !== 'live') {
      return { ok: false, message: 'This desk trades on paper (trading.mode: paper). Set trading.mode: live in the config and restart to trade live.' };
    }
    try {
      this.live ??= await this.d.createLive();
      this.lastReconciliation = await this.live.reconcile(await this.d.journalOpen());
    } catch (err) {
      this.live = undefined;
      return { ok: false, message: `Live trading not armed: ${err instanceof Error ? err.message : String(err)}` };
    }
    const state = { armed: true, by, approvedBy, at: new Date(this.d.clock.now()).toISOString() };
    await this.d.kv.set(ARMED_KEY, state);
    this.armed = state;
    this.d.audit.append({ kind: 'live', event: 'armed', by, approvedBy, exchange: this.d.exchange, sandbox: this.d.sandbox });
    return {
      ok: true,
      message: `LIVE trading armed on ${this.d.exchange}${this.d.sandbox ? ' (sandbox)' : ''} by ${by}, approved by ${approvedBy ?? '?'}. ${summarise(this.lastReconciliation)}`,
      report: reconciliationBlock(this.lastReconciliation),
    };
  }

  async disarm(by: string): Promise<{ message: string }> {
    const state = { armed: false, by, approvedBy: null, at: new Date(this.d.clock.now()).toISOString() };
    await this.d.kv.set(ARMED_KEY, state);
    this.armed = state;
    this.d.audit.append({ kind: 'live', event: 'disarmed', by });
    return { message: this.d.mode === 'live' ? `Live trading disarmed by ${by}; new orders are refused until it is armed again.` : 'This desk trades on paper; nothing to disarm.' };
  }

  async describe(): Promise<Record<string, string>> {
    const out: Record<string, string> = { mode: this.d.mode };
    if (this.d.mode === 'live') {
      out.exchange = `${this.d.exchange}${this.d.sandbox ? ' (sandbox)' : ''}`;
      out.armed = this.armed?.armed ? `yes, by ${this.armed.by} (approved by ${this.armed.approvedBy ?? '?'}) at ${this.armed.at}` : 'no';
      if (this.lastReconciliation) out['last reconciliation'] = summarise(this.lastReconciliation);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.live?.close();
  }
}

function summarise(r: Reconciliation): string {
  const diffs = r.missingAtExchange.length + r.unknownAtExchange.length;
  if (diffs === 0) return 'journal and exchange agree on open orders.';
  return `journal and exchange DIFFER: ${r.missingAtExchange.length} journal order(s) not open at the exchange, ${r.unknownAtExchange.length} exchange order(s) not in the journal.`;
}

function reconciliationBlock(r: Reconciliation): Block {
  const rows: string[][] = [
    ...r.missingAtExchange.map((o) => ['in journal, not at exchange', o.id, o.symbol]),
    ...r.unknownAtExchange.map((u) => ['at exchange, not in journal', u.clientOrderId ?? u.exchangeOrderId, u.symbol]),
  ];
  return rows.length === 0 ? block.text('Reconciliation: no differences.') : block.table(['difference', 'order', 'symbol'], rows, { title: 'Reconciliation' });
}
