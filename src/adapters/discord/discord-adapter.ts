import { setTimeout as sleep } from 'node:timers/promises';
import {
  Client,
  Events,
  GatewayIntentBits,
  MessageFlags,
  RESTEvents,
  Routes,
  Status,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type InteractionEditReplyOptions,
  type InteractionReplyOptions,
  type RawFile,
} from 'discord.js';
import type { Logger } from 'pino';
import type { AdapterHealth, AdapterHost, ChatAdapter } from '../../kernel/adapters.js';
import type { Channel } from '../../kernel/auth/principal.js';
import type { IncomingMessage } from '../../kernel/commands/dispatcher.js';
import type { Reply } from '../../kernel/reply.js';
import { ButtonTokens } from './buttons.js';
import { applicationCommands, commandLine, optionName } from './commands.js';
import { renderReply, type OutMessage } from './render.js';
import { DEFAULT_RETRY, describeError, maskTokens, withRetry, type RetryPolicy } from './retry.js';

export interface DiscordAdapterOptions {
  /** the bot token (DISCORD_BOT_TOKEN); handed to discord.js only, never logged */
  token: string;
  /** the process logger (the adapter logs as a child tagged adapter=discord) */
  logger: Logger;
  /** REST base, e.g. https://discord.com/api (discord.js's default when null); the gateway URL comes from GET /gateway/bot there */
  apiBase?: string | null;
  /** register the commands in this guild (instant) instead of globally */
  guildId?: string | null;
  /** defer an interaction when the kernel has not answered within this (Discord allows 3 s for the first answer) */
  deferAfterMs?: number;
  /** 5xx and network failures: tries and backoff */
  retry?: Partial<RetryPolicy>;
  /** start() gives up when the gateway is not ready (READY and every guild) within this */
  readyTimeoutMs?: number;
  /** stop() waits this long for replies in flight */
  drainMs?: number;
}

type Answerable = ChatInputCommandInteraction | ButtonInteraction;

const EXPIRED_BUTTON =
  'That button has expired (it is from before a restart or over a day old), so nothing was done. Type the command instead, e.g. /confirm <token> from the message.';

/**
 * Discord through discord.js: a gateway connection for interactions (slash commands, button
 * presses, autocomplete) and REST for replies and posts. Each interaction becomes one
 * IncomingMessage (id = the interaction id, so a redelivered interaction is handled once) with
 * the command line the options spell; the Reply comes back as embeds, buttons and attachments.
 * An answer that takes longer than `deferAfterMs` is deferred (Discord shows "thinking…") and
 * edited in when ready.
 */
export class DiscordAdapter implements ChatAdapter {
  readonly platform = 'discord';
  private client: Client | null = null;
  private host: AdapterHost | null = null;
  private readonly log: Logger;
  private readonly buttons = new ButtonTokens();
  private readonly inflight = new Set<Promise<void>>();
  private readonly dmChannels = new Map<string, string>();
  private readonly retry: RetryPolicy;
  private stopped = false;
  private commandsNote = 'commands not registered';

  constructor(private readonly opts: DiscordAdapterOptions) {
    this.log = opts.logger.child({ adapter: 'discord' });
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
  }

  async start(host: AdapterHost): Promise<void> {
    if (this.client !== null || this.stopped) throw new Error('the Discord adapter was already started');
    this.host = host;
    this.client = await this.connect();
    await this.registerCommands(this.client, host);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.inflight.size > 0) {
      const drain = Promise.allSettled([...this.inflight]).then(() => 'drained' as const);
      const ac = new AbortController();
      const timeout = sleep(this.opts.drainMs ?? 10_000, 'timeout' as const, { signal: ac.signal }).catch(() => 'drained' as const);
      if ((await Promise.race([drain, timeout]).finally(() => ac.abort())) === 'timeout') {
        this.log.warn({ inflight: this.inflight.size }, 'discord: stopping with replies still in flight');
      }
    }
    await this.client?.destroy();
  }

  async post(channel: Channel, reply: Reply): Promise<void> {
    const client = this.client;
    if (client === null || this.stopped) throw new Error('the Discord adapter is not connected');
    try {
      const target = await this.postTarget(client, channel);
      for (const m of renderReply(reply, { buttonId: (c) => this.buttons.idFor(c) })) {
        const files: RawFile[] = m.files.map((f, i) => ({ key: `files[${i}]`, name: f.name, data: f.data, contentType: 'image/png' }));
        const body = {
          embeds: m.embeds,
          components: m.components,
          attachments: m.files.map((f, i) => ({ id: i, filename: f.name, description: f.description })),
          // alerts and digests quote user text: never let them ping anyone
          allowed_mentions: { parse: [] },
        };
        await this.call('post', () => client.rest.post(Routes.channelMessages(target), { body, files }));
      }
    } catch (e) {
      // a plain Error: discord.js errors carry the request body, which the kernel would log whole
      throw new Error(`Discord post to ${channel.threadId ?? channel.channelId} failed: ${this.describe(e)}`);
    }
  }

  health(): AdapterHealth {
    const client = this.client;
    if (this.stopped) return { connected: false, detail: 'stopped' };
    if (client === null) return { connected: false, detail: 'not started' };
    const status = client.ws.status;
    if (status !== Status.Ready) return { connected: false, detail: `gateway ${Status[status]?.toLowerCase() ?? String(status)}` };
    return { connected: true, detail: `gateway ready as ${client.user?.tag ?? '?'}, ping ${client.ws.ping} ms; ${this.commandsNote}` };
  }

  // ---------------------------------------------------------------------------------------------

  /** log in (retrying Discord outages), then wait for READY and the guilds */
  private async connect(): Promise<Client> {
    const readyMs = this.opts.readyTimeoutMs ?? 30_000;
    try {
      return await withRetry(
        async () => {
          const client = this.createClient();
          try {
            const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
            // login resolves on READY; the client is ready once every guild has arrived too
            const connected = client.login(this.opts.token).then(() => ready);
            connected.catch(() => undefined); // settled below, or abandoned after the timeout
            const ac = new AbortController();
            const outcome = await Promise.race([connected.then(() => 'ready' as const), sleep(readyMs, 'timeout' as const, { signal: ac.signal })]).finally(() => ac.abort());
            if (outcome === 'timeout') throw new Error(`the Discord gateway was not ready within ${readyMs / 1000} s`);
            return client;
          } catch (e) {
            await client.destroy().catch(() => undefined);
            throw e;
          }
        },
        this.retry,
        (r) => this.log.warn(r, 'discord: login failed; retrying'),
      );
    } catch (e) {
      if ((e as { code?: unknown }).code === 'TokenInvalid') {
        throw new Error('Discord refused the bot token (DISCORD_BOT_TOKEN): check it in the Developer Portal (Bot → Reset Token)');
      }
      throw new Error(`could not connect to Discord: ${this.describe(e)}`);
    }
  }

  private createClient(): Client {
    const client = new Client({
      // interactions arrive without any intent; Guilds keeps channels and threads cached
      intents: [GatewayIntentBits.Guilds],
      rest: { ...(this.opts.apiBase ? { api: this.opts.apiBase } : {}), retries: 0 },
      allowedMentions: { parse: [] },
    });
    client.on(Events.InteractionCreate, (i) => this.track(this.onInteraction(i)));
    client.on(Events.ShardDisconnect, (ev) => this.log.warn({ code: ev.code }, 'discord: gateway closed for good'));
    client.on(Events.ShardReconnecting, () => this.log.info('discord: gateway reconnecting'));
    client.on(Events.ShardResume, (_id, replayed) => this.log.info({ replayed }, 'discord: gateway resumed'));
    client.on(Events.ShardError, (err) => this.log.warn({ error: this.describe(err) }, 'discord: gateway error'));
    client.on(Events.Error, (err) => this.log.error({ error: this.describe(err) }, 'discord: client error'));
    client.on(Events.Warn, (m) => this.log.warn({ detail: maskTokens(m, [this.opts.token]) }, 'discord: warning'));
    client.rest.on(RESTEvents.Response, (req, res) => {
      // discord.js waits out a 429 and retries on its own; say so, without the token in the path
      if (res.status === 429) {
        this.log.warn({ method: req.method, path: maskTokens(String(req.path)), retryAfter: res.headers.get('retry-after') }, 'discord: rate limited; discord.js retries after Retry-After');
      }
    });
    return client;
  }

  private async registerCommands(client: Client, host: AdapterHost): Promise<void> {
    const appId = client.application?.id;
    if (appId === undefined) {
      this.log.error('discord: READY carried no application id; application commands not registered');
      return;
    }
    const { body, skipped } = applicationCommands(host.commands());
    for (const s of skipped) this.log.warn(s, 'discord: command not registered');
    const guildId = this.opts.guildId ?? null;
    const route = guildId === null ? Routes.applicationCommands(appId) : Routes.applicationGuildCommands(appId, guildId);
    try {
      await this.call('register commands', () => client.rest.put(route, { body }));
      this.commandsNote = `${body.length} commands registered ${guildId === null ? 'globally' : `in guild ${guildId}`}`;
      this.log.info({ commands: body.length, guild: guildId }, 'discord: application commands registered');
    } catch (e) {
      // connected, but slash commands may be stale: loud, not fatal (button presses and old commands still work)
      this.commandsNote = 'command registration FAILED';
      const error = this.describe(e);
      this.log.error({ error }, 'discord: registering application commands failed');
      host.audit({ kind: 'platform-fault', what: 'register-commands', error });
    }
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async onInteraction(i: Interaction): Promise<void> {
    const host = this.host;
    if (host === null) return;
    try {
      if (i.isAutocomplete()) await this.autocomplete(i, host);
      else if (i.isChatInputCommand()) {
        const cmd = host.commands().find((c) => c.spec.name === i.commandName);
        await this.answer(i, commandLine(cmd, i.commandName, i.options.data), host);
      } else if (i.isButton()) {
        const command = this.buttons.commandFor(i.customId);
        if (command === undefined) {
          await this.call('expired button', () => i.reply({ embeds: [{ description: `⛔ ${EXPIRED_BUTTON}`, color: 0xed4245 }], flags: MessageFlags.Ephemeral }));
        } else await this.answer(i, command, host);
      }
    } catch (e) {
      const error = this.describe(e);
      this.log.error({ interaction: i.id, error }, 'discord: could not answer an interaction');
      host.audit({ kind: 'platform-fault', what: 'interaction-reply', interaction: i.id, error });
    }
  }

  /**
   * Run the command as the person who sent it (or pressed the button) and answer. A slash command
   * is answered with a reply (or a deferred reply edited later); a button press leaves its
   * message alone when the answer is only for the presser (a refusal), and otherwise takes the
   * buttons off it (the action is done) and posts the answer below.
   */
  private async answer(i: Answerable, text: string, host: AdapterHost): Promise<void> {
    const pending = host.handle(this.incoming(i, text));
    let deferred = false;
    let out = await within(pending, this.opts.deferAfterMs ?? 2_000);
    if (out === TIMEOUT) {
      deferred = true;
      await this.call('defer', () => (i.isButton() ? i.deferUpdate() : i.deferReply()));
      out = await pending;
    }
    if (out === null) {
      // a redelivered interaction: the first delivery answers it
      if (deferred && i.isChatInputCommand()) await this.call('delete deferred reply', () => i.deleteReply());
      return;
    }
    const priv = out.private === true;
    const messages = renderReply(out, { buttonId: (c) => this.buttons.idFor(c) });
    // Discord needs an answer to every interaction, even to an empty reply
    const [head = { embeds: [{ description: 'Done.', color: 0x5865f2 }], components: [], files: [] }, ...tail] = messages;

    if (i.isChatInputCommand()) {
      if (!deferred) await this.call('reply', () => i.reply(replyOptions(head, priv)));
      else if (priv) {
        // a deferred reply's visibility is fixed when deferring: swap it for an ephemeral follow-up
        await this.call('delete deferred reply', () => i.deleteReply());
        await this.call('follow-up', () => i.followUp(replyOptions(head, true)));
      } else await this.call('edit reply', () => i.editReply(editOptions(head)));
    } else if (!deferred) {
      if (priv) await this.call('reply', () => i.reply(replyOptions(head, true)));
      else {
        await this.call('update', () => i.update({ components: [] }));
        await this.call('follow-up', () => i.followUp(replyOptions(head, false)));
      }
    } else {
      if (!priv) await this.call('edit message', () => i.editReply({ components: [] }));
      await this.call('follow-up', () => i.followUp(replyOptions(head, priv)));
    }
    for (const m of tail) await this.call('follow-up', () => i.followUp(replyOptions(m, priv)));
  }

  private incoming(i: Answerable, text: string): IncomingMessage {
    const ch = i.channel;
    const thread = ch !== null && ch.isThread() ? ch : null;
    const msg: IncomingMessage = {
      platform: 'discord',
      id: i.id,
      userId: i.user.id,
      userName: i.user.globalName ?? i.user.username,
      // a thread counts as its parent channel (channel rules), with the thread alongside
      channelId: thread?.parentId ?? i.channelId ?? i.user.id,
      text,
    };
    if (thread !== null) msg.threadId = thread.id;
    return msg;
  }

  private async autocomplete(i: AutocompleteInteraction, host: AdapterHost): Promise<void> {
    const focused = i.options.getFocused(true);
    const cmd = host.commands().find((c) => c.spec.name === i.commandName);
    const spec = Object.entries(cmd?.spec.args ?? {}).find(([n]) => optionName(n) === focused.name)?.[1];
    const found = spec?.options.hint === 'symbol' ? await host.suggestSymbols(String(focused.value), 25) : [];
    await this.call('autocomplete', () => i.respond(found.slice(0, 25).map((s) => ({ name: s, value: s }))));
  }

  /** a thread is a channel of its own on Discord; "@<user id>" posts to that user's DMs */
  private async postTarget(client: Client, channel: Channel): Promise<string> {
    if (channel.threadId !== undefined) return channel.threadId;
    if (!channel.channelId.startsWith('@')) return channel.channelId;
    const userId = channel.channelId.slice(1);
    const known = this.dmChannels.get(userId);
    if (known !== undefined) return known;
    const dm = (await this.call('open DM', () => client.rest.post(Routes.userChannels(), { body: { recipient_id: userId } }))) as { id: string };
    this.dmChannels.set(userId, dm.id);
    return dm.id;
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, this.retry, (r) => this.log.warn({ ...r, what }, 'discord: request failed; retrying'));
  }

  private describe(e: unknown): string {
    return describeError(e, [this.opts.token]);
  }
}

const TIMEOUT = Symbol('timeout');

/** `p`, or TIMEOUT after `ms`; a plain timer (an aborted timers/promises sleep builds an AbortError per reply) */
function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(resolve, ms, TIMEOUT);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function files(m: OutMessage): Array<{ attachment: Buffer; name: string; description: string }> {
  return m.files.map((f) => ({ attachment: f.data, name: f.name, description: f.description }));
}

function replyOptions(m: OutMessage, ephemeral: boolean): InteractionReplyOptions {
  return { embeds: m.embeds, components: m.components, files: files(m), ...(ephemeral ? { flags: MessageFlags.Ephemeral } : {}) };
}

function editOptions(m: OutMessage): InteractionEditReplyOptions {
  return { embeds: m.embeds, components: m.components, files: files(m) };
}

