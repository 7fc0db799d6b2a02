import type Keyv from 'keyv';
import type { LedgerEntry } from '../../kernel/orders/types.js';
import { newAccount, type AccountState } from './account.js';
import { utcDay } from '../../kernel/utc.js';
import type { PaperOrder } from './order-record.js';

/**
 * The paper broker's state in its Keyv namespace.
 *
 * Layout
 *   account             AccountState: balances, reservations, positions, seq, ledgerDays
 *   order:<client id>   PaperOrder: one record per order, with its fills
 *   ledger:<YYYY-MM-DD>#<NNNN> { seq, entries }: the ledger entries of fills made that UTC day,
 *                       in chunks of at most LEDGER_CHUNK entries (account.ledgerDays lists the chunks),
 *                       so a fill rewrites one bounded record, not the whole day
 *   wal                 the operation being written (see below); absent when none is
 *
 * Crash safety. An operation that moves money (a fill, a reservation, a release) changes the
 * order, the account and maybe a ledger day: three records that cannot be written atomically.
 * So the whole result is first written as ONE record (`wal`, carrying seq = account.seq + 1),
 * then the order, the ledger day and finally the account (whose seq then equals the wal's), then
 * the wal is deleted. A crash before the wal is stored loses the whole operation (the order is
 * unknown, so a retry places it afresh); a crash after it is rolled forward on the next load,
 * when wal.seq > account.seq. Each redo write is idempotent (a ledger day records the last seq
 * it took in), so a fill can never be applied to balances without being recorded for its order,
 * nor recorded twice. An operation touching the order alone (a failure at placement) is one
 * record and needs no wal.
 *
 * Keyv must throw on store errors (the kernel's namespaces are opened with throwOnErrors: a
 * silent failed read would look like an empty account). A write reporting false throws here.
 */

interface LedgerDay {
  seq: number;
  entries: LedgerEntry[];
}

interface Wal {
  seq: number;
  order: PaperOrder;
  account: AccountState;
  /** ledger chunk id (day#NNNN) → the entries this operation adds to it */
  ledger: Array<[string, LedgerEntry[]]>;
}

/** entries per ledger record: a fill's write stays small however busy the day */
const LEDGER_CHUNK = 25;

export interface Commit {
  order: PaperOrder;
  /** the working copy of the account after the operation; its seq is advanced here */
  account?: AccountState;
  ledger?: LedgerEntry[];
}

export class PaperStore {
  /** entries per ledger chunk, remembered so a fill does not re-read its chunk (see forget) */
  private readonly chunkSizes = new Map<string, number>();

  constructor(private readonly kv: Keyv) {}

  /** another desk may have written since (a shared store): read chunk sizes afresh */
  forget(): void {
    this.chunkSizes.clear();
  }

  /** The account, after finishing an operation a crash interrupted; the starting balances when there is none yet. */
  async loadAccount(starting: Record<string, number>): Promise<AccountState> {
    const account = await this.kv.get<AccountState>('account');
    const wal = await this.kv.get<Wal>('wal');
    if (account !== undefined) checkVersion(account, 'account');
    if (wal !== undefined && (account === undefined || wal.seq > account.seq)) {
      checkVersion(wal.account, 'wal');
      await this.redo(wal);
      return wal.account;
    }
    if (wal !== undefined) await this.kv.delete('wal');
    if (account !== undefined) return account;
    const fresh = newAccount(starting);
    await this.write('account', fresh);
    return fresh;
  }

  async order(id: string): Promise<PaperOrder | undefined> {
    const rec = await this.kv.get<PaperOrder>(`order:${id}`);
    if (rec !== undefined) checkVersion(rec, `order ${id}`);
    return rec;
  }

  async commit(c: Commit): Promise<void> {
    if (c.account === undefined) {
      if ((c.ledger ?? []).length > 0) throw new Error('paper broker: ledger entries without an account change');
      await this.write(`order:${c.order.id}`, c.order);
      return;
    }
    const account = c.account;
    account.seq += 1;
    const byDay = new Map<string, LedgerEntry[]>();
    for (const e of c.ledger ?? []) {
      const day = utcDay(e.fill.time);
      byDay.set(day, [...(byDay.get(day) ?? []), e]);
    }
    const ledger: Array<[string, LedgerEntry[]]> = [];
    for (const [day, entries] of byDay) {
      // the day's newest chunk, or a new one when it is full
      const last = account.ledgerDays.filter((d) => d.startsWith(`${day}#`)).at(-1);
      let chunk = last;
      if (last === undefined || (await this.chunkSize(last)) + entries.length > LEDGER_CHUNK) {
        const n = last === undefined ? 0 : Number(last.slice(day.length + 1)) + 1;
        chunk = `${day}#${String(n).padStart(4, '0')}`;
        account.ledgerDays = [...account.ledgerDays, chunk].sort();
      }
      ledger.push([chunk as string, entries]);
      this.chunkSizes.set(chunk as string, (this.chunkSizes.get(chunk as string) ?? 0) + entries.length);
    }
    await this.redo({ seq: account.seq, order: c.order, account, ledger }, true);
  }

  private async chunkSize(chunk: string): Promise<number> {
    let n = this.chunkSizes.get(chunk);
    if (n === undefined) {
      n = (await this.kv.get<LedgerDay>(`ledger:${chunk}`))?.entries.length ?? 0;
      this.chunkSizes.set(chunk, n);
    }
    return n;
  }

  /** ledger entries of fills at or after `since`, oldest first */
  async ledger(days: readonly string[], since: number): Promise<LedgerEntry[]> {
    const from = utcDay(since);
    const out: LedgerEntry[] = [];
    for (const day of days) {
      // chunk ids are "<day>#NNNN": a chunk of `from` sorts after `from` itself
      if (day < from) continue;
      const bucket = await this.kv.get<LedgerDay>(`ledger:${day}`);
      for (const e of bucket?.entries ?? []) if (e.fill.time >= since) out.push(e);
    }
    return out.sort((a, b) => a.fill.time - b.fill.time);
  }

  private async redo(wal: Wal, fresh = false): Promise<void> {
    if (fresh) await this.write('wal', wal);
    await this.write(`order:${wal.order.id}`, wal.order);
    for (const [day, entries] of wal.ledger) {
      const bucket = (await this.kv.get<LedgerDay>(`ledger:${day}`)) ?? { seq: 0, entries: [] };
      if (bucket.seq >= wal.seq) continue; // already taken in before the crash
      await this.write(`ledger:${day}`, { seq: wal.seq, entries: [...bucket.entries, ...entries] });
    }
    await this.write('account', wal.account);
    await this.kv.delete('wal');
  }

  private async write(key: string, value: unknown): Promise<void> {
    if (!(await this.kv.set(key, value))) throw new Error(`paper broker: the store did not save ${key}`);
  }
}

function checkVersion(rec: { v?: unknown }, what: string): void {
  if (rec.v !== 1) throw new Error(`paper broker: stored ${what} has version ${String(rec.v)}, this build reads version 1`);
}
