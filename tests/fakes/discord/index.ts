import { randomBytes } from 'node:crypto';
import { listenOnLoopback } from '../exchange/http.js';
import { FakeGateway } from './gateway.js';
import { interactionBase, snowflake, type FakeChannel, type FakeGuild, type FakeUser, type StoredMessage } from './payloads.js';
import { restHandler } from './rest.js';
import { FakeState, type Fault, type InteractionState, type RecordedRequest } from './state.js';
import { waitForChange } from '../wait-for-change.js';

/**
 * A fake Discord on 127.0.0.1 for the real discord.js client: the REST API (point discord.js at
 * it with `rest: { api: fake.apiBase }`) and the gateway WebSocket, which discord.js finds the
 * way it finds Discord's, through GET /gateway/bot. Tests push interactions (slash commands,
 * button presses, autocomplete) as INTERACTION_CREATE dispatches, read what the bot sent from
 * the recorded requests and stored messages, and inject faults (429 with Retry-After, 5xx).
 */

export type { FakeChannel, FakeGuild, FakeUser, StoredMessage, RecordedRequest, InteractionState, Fault };

export interface FakeDiscordOptions {
  token?: string;
  /** the gateway's heartbeat interval (Discord sends ~41 s; tests shorten it to see heartbeats) */
  heartbeatIntervalMs?: number;
}

export interface Where {
  user: FakeUser;
  /** a guild channel or a DM channel (see dm()); the desk channel by default */
  channel?: FakeChannel;
}

export interface FakeDiscord {
  readonly apiBase: string;
  readonly gatewayUrl: string;
  readonly token: string;
  readonly appId: string;
  readonly bot: FakeUser;
  readonly guild: FakeGuild;
  /** #desk and #alerts in the guild, and a thread under #desk */
  readonly desk: FakeChannel;
  readonly alerts: FakeChannel;
  readonly thread: FakeChannel;
  readonly gateway: FakeGateway;
  readonly requests: RecordedRequest[];
  readonly messages: StoredMessage[];
  /** commands registered in the guild, or globally when guildId is omitted */
  commands(guildId?: string): Array<Record<string, unknown>>;
  user(id: string, username: string): FakeUser;
  /** the DM channel between the bot and this user */
  dm(user: FakeUser): FakeChannel;
  fault(f: Fault): void;
  /** a slash command as Discord delivers it; option values typed by the registered command */
  slash(name: string, options: Record<string, string | number | boolean>, where: Where): InteractionState;
  /** someone clicks the button labelled `label` on a message the bot sent */
  press(message: StoredMessage, label: string, where: Where): InteractionState;
  /** the user is typing into option `focused` of a command */
  autocomplete(name: string, options: Record<string, string>, focused: string, where: Where): InteractionState;
  /** the same INTERACTION_CREATE (same id and token) delivered again */
  redeliver(interaction: InteractionState): void;
  interaction(id: string): InteractionState | undefined;
  /** messages answering this interaction (original response and follow-ups), in order, deleted ones left out */
  responses(interactionId: string): StoredMessage[];
  /** bot messages in a channel, deleted ones left out */
  channelMessages(channelId: string): StoredMessage[];
  /** resolves with fn's first non-undefined result, re-checked after every request and gateway event */
  waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export async function startFakeDiscord(opts: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const token = opts.token ?? `MTA.fake.${randomBytes(12).toString('base64url')}`;
  const appId = snowflake();
  const bot: FakeUser = { id: appId, username: 'deskbot', bot: true };
  const guildId = snowflake();
  const desk: FakeChannel = { id: snowflake(), type: 0, guildId, name: 'desk' };
  const alerts: FakeChannel = { id: snowflake(), type: 0, guildId, name: 'alerts' };
  const thread: FakeChannel = { id: snowflake(), type: 11, guildId, name: 'btc-desk', parentId: desk.id };
  const guild: FakeGuild = { id: guildId, name: 'Trading Desk', channels: [desk, alerts, thread] };
  const state = new FakeState(token, appId, bot, [guild]);
  state.events.setMaxListeners(100);

  let base = '';
  const { server, port } = await listenOnLoopback(restHandler(state, () => base));
  base = `http://127.0.0.1:${port}`;
  const gatewayUrl = `ws://127.0.0.1:${port}/gateway`;
  const gateway = new FakeGateway(server, state, () => gatewayUrl, opts.heartbeatIntervalMs ?? 41_250);

  const registered = (name: string, channel: FakeChannel): Record<string, unknown> => {
    const list = channel.guildId !== undefined ? [...(state.guildCommands.get(channel.guildId) ?? []), ...state.globalCommands] : state.globalCommands;
    const cmd = list.find((c) => c.name === name);
    if (!cmd) throw new Error(`fake discord: /${name} is not registered${channel.guildId !== undefined ? ' in the guild or globally' : ' globally (DMs only see global commands)'}`);
    return cmd;
  };
  const typedOptions = (cmd: Record<string, unknown>, values: Record<string, string | number | boolean>, focused?: string) => {
    const defs = (cmd.options as Array<{ name: string; type: number; choices?: Array<{ value: unknown }> }> | undefined) ?? [];
    return Object.entries(values).map(([name, value]) => {
      const def = defs.find((o) => o.name === name);
      if (!def) throw new Error(`fake discord: /${String(cmd.name)} has no option "${name}" (registered: ${defs.map((o) => o.name).join(', ') || 'none'})`);
      if (def.choices && name !== focused && !def.choices.some((c) => c.value === value)) {
        throw new Error(`fake discord: "${String(value)}" is not one of the choices of ${name}`);
      }
      // Discord sends INTEGER and NUMBER options as JSON numbers, except while the user is still typing
      const typed = name !== focused && (def.type === 4 || def.type === 10) ? Number(value) : def.type === 5 ? Boolean(value) : String(value);
      return { name, type: def.type, value: typed, ...(name === focused ? { focused: true } : {}) };
    });
  };
  const deliver = (i: InteractionState): void => {
    state.interactions.set(i.id, i);
    gateway.dispatch('INTERACTION_CREATE', i.payload);
  };
  const make = (type: number, where: Where, data: Record<string, unknown>, extra: Record<string, unknown> = {}): InteractionState => {
    const channel = where.channel ?? desk;
    state.users.set(where.user.id, where.user);
    const id = snowflake();
    const tokenI = `aW50ZXJhY3Rpb24.${randomBytes(24).toString('base64url')}`;
    const payload = { ...interactionBase({ id, token: tokenI, appId, type, user: where.user, channel }), data, ...extra };
    return { id, token: tokenI, type, channelId: channel.id, payload, callbackType: null };
  };

  return {
    apiBase: `${base}/api`,
    gatewayUrl,
    token,
    appId,
    bot,
    guild,
    desk,
    alerts,
    thread,
    gateway,
    requests: state.requests,
    messages: state.messages,
    commands: (g) => (g === undefined ? state.globalCommands : (state.guildCommands.get(g) ?? [])),
    user(id, username) {
      const u = { id, username };
      state.users.set(id, u);
      return u;
    },
    dm(user) {
      const found = [...state.channels.values()].find((c) => c.type === 1 && c.recipient?.id === user.id);
      if (found) return found;
      const c: FakeChannel = { id: snowflake(), type: 1, recipient: user };
      state.channels.set(c.id, c);
      return c;
    },
    fault(f) {
      state.faults.push({ ...f });
    },
    slash(name, options, where) {
      const cmd = registered(name, where.channel ?? desk);
      const i = make(2, where, { id: cmd.id, name, type: 1, options: typedOptions(cmd, options), ...(cmd.guild_id ? { guild_id: cmd.guild_id } : {}) });
      deliver(i);
      return i;
    },
    press(message, label, where) {
      const buttons = message.components.flatMap((row) => (row.components as Array<{ label?: string; custom_id?: string }> | undefined) ?? []);
      const button = buttons.find((b) => b.label === label);
      if (!button?.custom_id) throw new Error(`fake discord: no button "${label}" on message ${message.id} (has ${buttons.map((b) => b.label).join(', ') || 'none'})`);
      const channel = where.channel ?? state.channels.get(message.channelId) ?? desk;
      const msgObject = {
        id: message.id,
        channel_id: message.channelId,
        author: { id: bot.id, username: bot.username, discriminator: '0001', avatar: null, bot: true, global_name: null },
        content: message.content,
        timestamp: new Date().toISOString(),
        edited_timestamp: null,
        tts: false,
        mention_everyone: false,
        mentions: [],
        mention_roles: [],
        attachments: [],
        embeds: message.embeds,
        components: message.components,
        pinned: false,
        type: message.interactionId === undefined ? 0 : 20,
        flags: message.flags,
      };
      const i = make(3, { user: where.user, channel }, { custom_id: button.custom_id, component_type: 2 }, { message: msgObject });
      i.componentMessageId = message.id;
      deliver(i);
      return i;
    },
    autocomplete(name, options, focused, where) {
      const cmd = registered(name, where.channel ?? desk);
      const i = make(4, where, { id: cmd.id, name, type: 1, options: typedOptions(cmd, options, focused) });
      deliver(i);
      return i;
    },
    redeliver(i) {
      gateway.dispatch('INTERACTION_CREATE', i.payload);
    },
    interaction: (id) => state.interactions.get(id),
    responses: (id) => state.messages.filter((m) => m.interactionId === id && !m.deleted),
    channelMessages: (id) => state.messages.filter((m) => m.channelId === id && !m.deleted),
    waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
      return waitForChange(state.events, fn, { timeoutMs, timeoutMessage: () => `fake discord: timed out after ${timeoutMs} ms waiting for ${what}` });
    },
    async close() {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
