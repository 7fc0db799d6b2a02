import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';

/**
 * Slack's side of the HTTP receiver: requests signed like Slack signs them (v0 HMAC-SHA256 of
 * `v0:<timestamp>:<raw body>` with the signing secret, in X-Slack-Signature, the timestamp in
 * X-Slack-Request-Timestamp), POSTed to the app's Request URL: slash commands and interactive
 * payloads form-encoded, Events API callbacks as JSON. Redeliveries carry X-Slack-Retry-Num.
 */

export interface SentRequest {
  status: number;
  body: string;
}

export interface SignOptions {
  /** seconds since the epoch; default now (Bolt refuses anything older than 5 minutes) */
  timestamp?: number;
  /** sign with this secret instead of the real one (a forged request) */
  secret?: string;
  /** Slack's retry headers: X-Slack-Retry-Num and X-Slack-Retry-Reason */
  retryNum?: number;
  retryReason?: string;
}

export function slackSignature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export async function sendSigned(url: string, body: string, contentType: string, secret: string, o: SignOptions = {}): Promise<SentRequest> {
  const timestamp = o.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': contentType,
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': slackSignature(o.secret ?? secret, timestamp, body),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
  };
  if (o.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(o.retryNum);
    headers['x-slack-retry-reason'] = o.retryReason ?? 'http_timeout';
  }
  return post(url, headers, body);
}

/**
 * Slack's connections to the app are kept alive between requests. node:http rather than fetch:
 * the fake is the platform side of the load benchmark, and fetch's web streams cost it about
 * twice the CPU per request.
 */
const agent = new Agent({ keepAlive: true });

function post(url: string, headers: Record<string, string>, body: string, retried = false): Promise<SentRequest> {
  return new Promise<SentRequest>((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      // the app closed a kept-alive connection just as it was reused: send again on a fresh one
      // (Node's documented remedy; a request that did arrive is a redelivery the desk dedupes)
      if (!retried && req.reusedSocket && err.code === 'ECONNRESET') post(url, headers, body, true).then(resolve, reject);
      else reject(err);
    });
    req.end(body);
  });
}

export interface SlashCommandInput {
  command: string;
  text?: string;
  user_id: string;
  user_name?: string;
  channel_id: string;
  channel_name?: string;
  trigger_id?: string;
}

let seq = 0;
/** ids in Slack's shapes, unique within a test run */
export function nextId(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${(++seq).toString(36)}`.toUpperCase();
}

/** A slash command's fields: form-encoded over HTTP, a JSON payload over Socket Mode. */
export function slashCommandPayload(c: SlashCommandInput, responseUrl: string, team = 'T0DESK'): Record<string, string> {
  return {
    token: 'verification-token-deprecated',
    team_id: team,
    team_domain: 'desk',
    channel_id: c.channel_id,
    channel_name: c.channel_name ?? 'desk',
    user_id: c.user_id,
    user_name: c.user_name ?? c.user_id.toLowerCase(),
    command: c.command,
    // Slack HTML-escapes &, < and > in the text
    text: (c.text ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
    api_app_id: 'A0DESKBOT',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: c.trigger_id ?? `${Date.now()}.${++seq}.${nextId('t').toLowerCase()}`,
  };
}

export interface MentionInput {
  user: string;
  channel: string;
  /** as typed, e.g. "<@U0BOT> /price btc" */
  text: string;
  ts?: string;
  thread_ts?: string;
  event_id?: string;
}

/** An Events API event_callback carrying an app_mention (the JSON body over HTTP, the envelope's payload over Socket Mode). */
export function mentionPayload(m: MentionInput, botUserId: string, team = 'T0DESK'): { payload: Record<string, unknown>; eventId: string } {
  const eventId = m.event_id ?? nextId('Ev');
  const ts = m.ts ?? `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;
  const event: Record<string, unknown> = {
    type: 'app_mention',
    user: m.user,
    text: m.text,
    ts,
    channel: m.channel,
    event_ts: ts,
    team,
    blocks: [],
  };
  if (m.thread_ts !== undefined) event['thread_ts'] = m.thread_ts;
  const body = {
    token: 'verification-token-deprecated',
    team_id: team,
    api_app_id: 'A0DESKBOT',
    event,
    type: 'event_callback',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ enterprise_id: null, team_id: team, user_id: botUserId, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
    event_context: `4-${eventId}`,
  };
  return { payload: body, eventId };
}

export interface PressInput {
  user: { id: string; username?: string };
  channel: string;
  /** the message as Slack shows it: ts, text, blocks (with Slack's block_ids) */
  message: { ts: string; text: string; blocks: Array<Record<string, unknown>>; thread_ts?: string };
  block_id: string;
  /** the button element that was pressed */
  button: Record<string, unknown>;
  trigger_id?: string;
}

/** The interactive payload of a button press (block_actions); over HTTP it is form-encoded as payload=<json>. */
export function pressPayload(p: PressInput, responseUrl: string, team = 'T0DESK'): Record<string, unknown> {
  const now = Date.now() / 1000;
  const text = p.button['text'] as { text?: string } | undefined;
  const payload = {
    type: 'block_actions',
    user: { id: p.user.id, username: p.user.username ?? p.user.id.toLowerCase(), name: p.user.username ?? p.user.id.toLowerCase(), team_id: team },
    api_app_id: 'A0DESKBOT',
    token: 'verification-token-deprecated',
    container: { type: 'message', message_ts: p.message.ts, channel_id: p.channel, is_ephemeral: false, ...(p.message.thread_ts ? { thread_ts: p.message.thread_ts } : {}) },
    trigger_id: p.trigger_id ?? `${Math.floor(now)}.${++seq}.${nextId('t').toLowerCase()}`,
    team: { id: team, domain: 'desk' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: p.channel, name: 'desk' },
    message: { type: 'message', subtype: 'bot_message', user: 'U0BOT', bot_id: 'B0BOT', ...p.message },
    state: { values: {} },
    response_url: responseUrl,
    actions: [
      {
        type: 'button',
        block_id: p.block_id,
        action_id: p.button['action_id'],
        text: { type: 'plain_text', text: text?.text ?? '', emoji: true },
        value: p.button['value'],
        ...(p.button['style'] !== undefined ? { style: p.button['style'] } : {}),
        action_ts: now.toFixed(6),
      },
    ],
  };
  return payload;
}
