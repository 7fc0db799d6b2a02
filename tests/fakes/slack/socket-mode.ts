import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * Slack's Socket Mode server side: apps.connections.open (answered by the Web API fake) hands
 * out a ws:// URL here; on connect the server says `hello`, then sends envelopes
 * ({ envelope_id, type: slash_commands | interactive | events_api, payload, retry_attempt })
 * that the app acknowledges with { envelope_id, payload }. `refresh()` is Slack's
 * `disconnect` message (it recycles connections), after which the client connects again.
 */
export class FakeSocketMode {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly open = new Set<WebSocket>();
  /** acknowledgements by envelope_id: the payload the app answered with */
  readonly acks = new Map<string, unknown>();
  /** connections accepted so far (a reconnect adds one) */
  connections = 0;
  private seq = 0;

  constructor(
    server: Server,
    private readonly port: number,
    private readonly changed: () => void,
  ) {
    server.on('upgrade', (req, socket, head) => {
      if (!(req.url ?? '').startsWith('/link')) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    });
  }

  /** what apps.connections.open returns */
  nextUrl(): string {
    return `ws://127.0.0.1:${this.port}/link/?ticket=${++this.seq}&app_id=A0DESKBOT`;
  }

  get connected(): number {
    return this.open.size;
  }

  private accept(ws: WebSocket): void {
    this.connections++;
    this.open.add(ws);
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.open.size,
        debug_info: { host: 'applink-fake', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: 'A0DESKBOT' },
      }),
    );
    // Slack pings; the client treats a silent server as a dead connection
    const ping = setInterval(() => ws.ping(), 2_000);
    ping.unref();
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { envelope_id?: string; payload?: unknown };
      if (typeof m.envelope_id === 'string') {
        this.acks.set(m.envelope_id, m.payload ?? null);
        this.changed();
      }
    });
    ws.on('close', () => {
      clearInterval(ping);
      this.open.delete(ws);
      this.changed();
    });
    this.changed();
  }

  /** one envelope to the newest connection; returns its envelope_id */
  send(type: 'slash_commands' | 'interactive' | 'events_api', payload: unknown, o: { retryAttempt?: number; retryReason?: string } = {}): string {
    const ws = [...this.open].at(-1);
    if (!ws) throw new Error('no Socket Mode connection is open');
    const envelope_id = `env-${++this.seq}-${Date.now().toString(36)}`;
    ws.send(
      JSON.stringify({
        envelope_id,
        type,
        payload,
        accepts_response_payload: type !== 'events_api',
        ...(type === 'events_api' ? { retry_attempt: o.retryAttempt ?? 0, retry_reason: o.retryReason ?? '' } : {}),
      }),
    );
    return envelope_id;
  }

  /** Slack's `disconnect` (refresh_requested): the client drops this connection and opens another */
  refresh(): void {
    for (const ws of this.open) ws.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'applink-fake' } }));
  }

  close(): void {
    for (const ws of this.open) ws.terminate();
    this.wss.close();
  }
}
