import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { listenOnLoopback } from '../exchange/http.js';

/**
 * A fake OpenAI-compatible server on 127.0.0.1 for tests: POST …/chat/completions under any base
 * path (/v1/chat/completions for OpenAI-style, /openai/deployments/<d>/chat/completions?api-version=…
 * for Azure, /chat/completions for a bare local server). Each request takes the next scripted
 * answer; with none left it answers 500 "no scripted answer", so a test that sends more than it
 * expected fails loudly. Every request is recorded, so tests can assert what left the client.
 * The real openai SDK talks to it; nothing is stubbed.
 */

export interface RecordedRequest {
  method: string;
  /** path without the query */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** the body exactly as received */
  raw: string;
  /** the body parsed as JSON, or null */
  body: Record<string, unknown> | null;
  /** Date.now() when it arrived */
  at: number;
}

export type FakeAnswer =
  /** a well-formed completion whose content is {"summary": summary} */
  | { kind: 'summary'; summary: string; usage?: { prompt_tokens: number; completion_tokens: number } | null; finishReason?: string }
  /** a completion with this raw message content (not necessarily JSON) or a refusal */
  | { kind: 'content'; content: string | null; refusal?: string }
  /** an HTTP error with an OpenAI-style error body */
  | { kind: 'status'; status: number; headers?: Record<string, string>; code?: string; message?: string }
  /** wait, then answer (the client may have given up by then) */
  | { kind: 'slow'; delayMs: number; then: FakeAnswer }
  /** 200, content-type JSON, a body that is not JSON */
  | { kind: 'malformed' };

export const DEFAULT_USAGE = { prompt_tokens: 120, completion_tokens: 30 };

/** Named answers, so a test reads as what the endpoint does. */
export const answers = {
  summary: (summary: string, usage: { prompt_tokens: number; completion_tokens: number } | null = DEFAULT_USAGE): FakeAnswer => ({ kind: 'summary', summary, usage }),
  content: (content: string | null): FakeAnswer => ({ kind: 'content', content }),
  refusal: (refusal: string): FakeAnswer => ({ kind: 'content', content: null, refusal }),
  slow: (delayMs: number, then: FakeAnswer = answers.summary('late')): FakeAnswer => ({ kind: 'slow', delayMs, then }),
  rateLimited: (retryAfterSeconds: number): FakeAnswer => ({
    kind: 'status',
    status: 429,
    headers: { 'retry-after': String(retryAfterSeconds) },
    code: 'rate_limit_exceeded',
    message: 'Rate limit reached',
  }),
  serverError: (retryAfterMs = 10): FakeAnswer => ({ kind: 'status', status: 500, headers: { 'retry-after-ms': String(retryAfterMs) }, message: 'The server had an error' }),
  status: (status: number, code?: string): FakeAnswer => ({ kind: 'status', status, ...(code !== undefined ? { code } : {}) }),
  malformed: (): FakeAnswer => ({ kind: 'malformed' }),
};

export interface FakeOpenAI {
  /** http://127.0.0.1:<port> — add /v1 (or any base path) for the client's baseURL */
  origin: string;
  /** queue answers for the next requests, in order */
  script(...next: FakeAnswer[]): void;
  /** chat completion requests received, oldest first */
  readonly requests: RecordedRequest[];
  /** answers still queued */
  pending(): number;
  close(): Promise<void>;
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const queue: FakeAnswer[] = [];
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    if (res.destroyed || res.writableEnded) return; // the client timed out and left
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };

  const reply = (res: ServerResponse, a: FakeAnswer, model: string): void => {
    switch (a.kind) {
      case 'slow': {
        const t = setTimeout(() => {
          timers.delete(t);
          reply(res, a.then, model);
        }, a.delayMs);
        timers.add(t);
        return;
      }
      case 'malformed':
        send(res, 200, '{"id": "chatcmpl-broken", "choices": [ {"message": ');
        return;
      case 'status':
        send(res, a.status, JSON.stringify({ error: { message: a.message ?? `HTTP ${a.status}`, type: 'fake_error', code: a.code ?? null } }), a.headers);
        return;
      case 'summary':
      case 'content': {
        const content = a.kind === 'summary' ? JSON.stringify({ summary: a.summary }) : a.content;
        const usage = a.kind === 'summary' ? (a.usage === undefined ? DEFAULT_USAGE : a.usage) : DEFAULT_USAGE;
        const completion = {
          id: `chatcmpl-fake-${requests.length}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content, refusal: a.kind === 'content' ? (a.refusal ?? null) : null },
              finish_reason: a.kind === 'summary' ? (a.finishReason ?? 'stop') : 'stop',
            },
          ],
          ...(usage ? { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } } : {}),
        };
        send(res, 200, JSON.stringify(completion));
        return;
      }
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method !== 'POST' || !url.pathname.endsWith('/chat/completions')) {
        send(res, 404, JSON.stringify({ error: { message: `fake openai: no route ${req.method} ${url.pathname}` } }));
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> | null = null;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        body = null;
      }
      requests.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, raw, body, at: Date.now() });
      const next = queue.shift() ?? { kind: 'status', status: 500, message: 'fake openai: no scripted answer left' };
      reply(res, next, typeof body?.['model'] === 'string' ? body['model'] : 'fake-model');
    });
  };

  const { server, port } = await listenOnLoopback(handle);
  return {
    origin: `http://127.0.0.1:${port}`,
    script: (...next) => void queue.push(...next),
    requests,
    pending: () => queue.length,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
