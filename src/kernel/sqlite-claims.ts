/**
 * "Set if absent" on one SQLite namespace, with the claims that arrive within one turn of the
 * event loop written as one statement (group commit). Every message's dedupe id is such a claim:
 * one statement per message cost a thread-pool round trip each, and under load those round trips,
 * not SQLite, were the limit. Semantics per key are those of a single claim: the row is inserted,
 * or an expired one (by its Keyv envelope's `expires`) taken over; anything else loses.
 */

/** how the claims reach SQLite: KeyvSqlite's `query` on the namespace's own connection */
export type SqliteQuery = (sql: string, ...params: unknown[]) => Promise<unknown>;

interface Claim {
  key: string;
  value: string;
  resolve: (won: boolean) => void;
  reject: (err: unknown) => void;
}

/** rows per statement: 2 parameters each, far below SQLite's 32,766 */
const MAX_ROWS = 500;

export class SqliteClaims {
  private queue: Claim[] = [];
  private scheduled = false;

  constructor(
    private readonly query: SqliteQuery,
    private readonly table: string,
  ) {}

  /** true if this call stored `value` under `key` (the already-prefixed key as stored) */
  claim(key: string, value: string): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ key, value, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // after the I/O callbacks of this turn: every message read in it joins the batch
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    // the first claim of a key in the batch takes part; a later one loses to it
    const first = new Map<string, Claim>();
    const later: Claim[] = [];
    for (const c of batch) {
      if (first.has(c.key)) later.push(c);
      else first.set(c.key, c);
    }
    const claims = [...first.values()];
    const failed = new Map<string, unknown>();
    const chunks: Claim[][] = [];
    for (let i = 0; i < claims.length; i += MAX_ROWS) chunks.push(claims.slice(i, i + MAX_ROWS));
    await Promise.all(
      chunks.map(async (chunk) => {
        try {
          const won = await this.write(chunk);
          for (const c of chunk) c.resolve(won.has(c.key));
        } catch (err) {
          for (const c of chunk) {
            failed.set(c.key, err);
            c.reject(err);
          }
        }
      }),
    );
    // a duplicate shares its first claim's failure: nothing was recorded for either
    for (const c of later) {
      if (failed.has(c.key)) c.reject(failed.get(c.key));
      else c.resolve(false);
    }
  }

  /** one statement for the chunk; the keys it inserted or took over */
  private async write(claims: Claim[]): Promise<Set<string>> {
    const t = this.table;
    const sql =
      `INSERT INTO ${t} (key, value) VALUES ${claims.map(() => '(?, ?)').join(', ')} ` +
      `ON CONFLICT(key) DO UPDATE SET value = excluded.value ` +
      `WHERE json_valid(${t}.value) AND json_extract(${t}.value, '$.expires') < ? RETURNING key`;
    const params: unknown[] = [];
    for (const c of claims) params.push(c.key, c.value);
    params.push(Date.now());
    const rows = await this.query(sql, ...params);
    const won = new Set<string>();
    if (Array.isArray(rows)) {
      for (const r of rows as Array<{ key?: unknown }>) if (typeof r.key === 'string') won.add(r.key);
    }
    return won;
  }
}
