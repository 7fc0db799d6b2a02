import type { IncomingMessage, Server } from 'node:http';
import { randomBytes } from 'node:crypto';
// `ws` is not a direct dependency of this project: it comes with discord.js (@discordjs/ws), ccxt
// and openai, and its types (@types/ws) with @discordjs/ws.
import { WebSocketServer, type WebSocket } from 'ws';
import { guildCreate, userObject } from './payloads.js';
import type { FakeState } from './state.js';

/**
 * The fake Discord gateway (v10, JSON encoding, no compression) on the fake's HTTP server at
 * /gateway — the URL GET /gateway/bot hands out. It speaks the real protocol: HELLO (op 10) with
 * the heartbeat interval; heartbeats (op 1) are ACKed (op 11); IDENTIFY (op 2) is checked against
 * the bot token (close 4004 otherwise) and answered with the READY dispatch (guilds listed as
 * unavailable) followed by one GUILD_CREATE per guild, as Discord does; RESUME (op 6) replays the
 * dispatches the session missed and sends RESUMED, or INVALID_SESSION (op 9) for an unknown
 * session. Dispatches (op 0) carry a per-session sequence number.
 */

interface Session {
  id: string;
  seq: number;
  /** every dispatch of the session, for RESUME */
  log: Array<{ s: number; t: string; d: unknown }>;
  socket: WebSocket | null;
}

export interface GatewayStats {
  /** IDENTIFY payloads received (the token is replaced by whether it matched) */
  identifies: Array<{ tokenOk: boolean; intents: unknown; shard: unknown }>;
  resumes: number;
  heartbeats: number;
}

const OPEN = 1;

export class FakeGateway {
  readonly stats: GatewayStats = { identifies: [], resumes: 0, heartbeats: 0 };
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<string, Session>();
  private readonly sockets = new Set<WebSocket>();

  constructor(
    server: Server,
    private readonly state: FakeState,
    private readonly url: () => string,
    private readonly heartbeatIntervalMs: number,
  ) {
    this.wss = new WebSocketServer({ server, path: '/gateway' });
    this.wss.on('connection', (socket: WebSocket, req: IncomingMessage) => this.accept(socket, req));
  }

  /** live connections */
  connections(): number {
    return [...this.sockets].filter((s) => s.readyState === OPEN).length;
  }

  /** identified sessions with a live connection */
  ready(): number {
    return [...this.sessions.values()].filter((s) => s.socket !== null && s.socket.readyState === OPEN).length;
  }

  /** a dispatch (op 0) to every identified connection */
  dispatch(t: string, d: unknown): number {
    let sent = 0;
    for (const s of this.sessions.values()) {
      const entry = { s: ++s.seq, t, d };
      s.log.push(entry);
      if (s.socket && s.socket.readyState === OPEN) {
        s.socket.send(JSON.stringify({ op: 0, ...entry }));
        sent++;
      }
    }
    this.state.changed();
    return sent;
  }

  /** cut every connection without a close frame, like a network failure (the client resumes) */
  drop(): void {
    for (const s of this.sockets) s.terminate();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(socket: WebSocket, req: IncomingMessage): void {
    this.sockets.add(socket);
    socket.on('close', () => {
      this.sockets.delete(socket);
      for (const s of this.sessions.values()) if (s.socket === socket) s.socket = null;
      this.state.changed();
    });
    const q = new URL(req.url ?? '/', 'http://fake').searchParams;
    if (q.get('v') !== '10') return socket.close(4012, 'Invalid API version.');
    if (q.get('encoding') !== 'json' || q.has('compress')) return socket.close(4002, 'Error while decoding payload.');
    let session: Session | null = null;
    socket.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs }, s: null, t: null }));
    socket.on('message', (raw: Buffer) => {
      let p: { op?: number; d?: Record<string, unknown> | number | null };
      try {
        p = JSON.parse(raw.toString('utf8')) as typeof p;
      } catch {
        return socket.close(4002, 'Error while decoding payload.');
      }
      const d = (typeof p.d === 'object' && p.d !== null ? p.d : {}) as Record<string, unknown>;
      switch (p.op) {
        case 1:
          this.stats.heartbeats++;
          socket.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
          this.state.changed();
          return;
        case 2: {
          if (session) return socket.close(4005, 'Already authenticated.');
          const tokenOk = d.token === this.state.token;
          this.stats.identifies.push({ tokenOk, intents: d.intents, shard: d.shard });
          if (!tokenOk) return socket.close(4004, 'Authentication failed.');
          if (typeof d.intents !== 'number') return socket.close(4013, 'Invalid intent(s).');
          session = { id: randomBytes(16).toString('hex'), seq: 0, log: [], socket };
          this.sessions.set(session.id, session);
          this.send(session, 'READY', {
            v: 10,
            user: userObject(this.state.bot),
            guilds: this.state.guilds.map((g) => ({ id: g.id, unavailable: true })),
            session_id: session.id,
            resume_gateway_url: this.url(),
            shard: [0, 1],
            application: { id: this.state.appId, flags: 0 },
            private_channels: [],
            relationships: [],
            presences: [],
            guild_join_requests: [],
            geo_ordered_rtc_regions: [],
            user_settings: {},
          });
          for (const g of this.state.guilds) this.send(session, 'GUILD_CREATE', guildCreate(g, this.state.bot));
          this.state.changed();
          return;
        }
        case 6: {
          const found = this.sessions.get(String(d.session_id));
          if (d.token !== this.state.token || !found) {
            socket.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
            return;
          }
          this.stats.resumes++;
          session = found;
          found.socket = socket;
          const from = Number(d.seq ?? 0);
          for (const e of found.log) if (e.s > from) socket.send(JSON.stringify({ op: 0, ...e }));
          this.send(found, 'RESUMED', {});
          this.state.changed();
          return;
        }
        case 3:
        case 4:
        case 8:
          return; // presence, voice, member requests: nothing to do for this bot
        default:
          if (!session) return socket.close(4003, 'Not authenticated.');
          return socket.close(4001, 'Unknown opcode.');
      }
    });
  }

  private send(session: Session, t: string, d: unknown): void {
    const entry = { s: ++session.seq, t, d };
    session.log.push(entry);
    session.socket?.send(JSON.stringify({ op: 0, ...entry }));
  }
}
