import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ReadinessReport } from './readiness.js';

/**
 * The operations HTTP endpoint (node:http, no framework — three read-only routes):
 *   GET /metrics  Prometheus text (this kernel's registry + process metrics)
 *   GET /healthz  200 {"status":"alive"} while the process serves HTTP; checks nothing else
 *   GET /readyz   200 when store, market data and every chat platform are usable; else 503
 *                 with the failing checks named
 * Anything else is 404; methods other than GET/HEAD are 405. It binds where config says
 * (127.0.0.1 by default: metrics and check details are for the operator, not the internet).
 */

export interface OpsServerOptions {
  host: string;
  /** 0: any free port (see `port` for the one bound) */
  port: number;
  logger: Logger;
  metrics: () => Promise<{ contentType: string; body: string }>;
  readiness: () => Promise<ReadinessReport>;
}

export class OpsServer {
  private constructor(
    private readonly server: Server,
    readonly host: string,
    /** the port actually bound */
    readonly port: number,
  ) {}

  /** Listen; rejects with one line (e.g. the port is taken) when it cannot. */
  static async start(opts: OpsServerOptions): Promise<OpsServer> {
    const server = createServer((req, res) => {
      route(req, res, opts).catch((err: unknown) => {
        opts.logger.error({ err, path: req.url }, 'ops request failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    });
    // probes and scrapes are small and quick: a slow or idle client must not hold a socket long
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new Error(`ops server cannot listen on ${opts.host}:${opts.port}: ${err.code ?? err.message}`));
      };
      server.once('error', onError);
      server.listen(opts.port, opts.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => opts.logger.error({ err }, 'ops server error'));
    const port = (server.address() as AddressInfo).port;
    return new OpsServer(server, opts.host, port);
  }

  /** e.g. http://127.0.0.1:9464 */
  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${host}:${this.port}`;
  }

  /** Stop listening and drop open (keep-alive) connections. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function route(req: IncomingMessage, res: ServerResponse, opts: OpsServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
    sendJson(res, 404, { error: 'not found', routes: ['/metrics', '/healthz', '/readyz'] });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    sendJson(res, 405, { error: 'method not allowed' });
    return;
  }
  if (path === '/healthz') {
    sendJson(res, 200, { status: 'alive' });
    return;
  }
  if (path === '/readyz') {
    const r = await opts.readiness();
    sendJson(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'unready', failing: r.failing, checks: r.checks });
    return;
  }
  const m = await opts.metrics();
  send(res, 200, m.contentType, m.body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
