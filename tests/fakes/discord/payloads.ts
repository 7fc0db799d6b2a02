/**
 * Discord API objects as the real API sends them (v10 field names), for the fake's gateway
 * dispatches and REST answers. Only the fields discord.js reads are filled, with the types the
 * API uses (ids are snowflake strings, permissions are decimal strings).
 */

let next = 0n;
const EPOCH = 1_420_070_400_000n; // Discord's snowflake epoch (2015-01-01)

/** A fresh snowflake: the current time in the high bits, so discord.js's createdAt is sane. */
export function snowflake(): string {
  next = (next + 1n) & 0xfffn;
  return (((BigInt(Date.now()) - EPOCH) << 22n) | next).toString();
}

export interface FakeUser {
  id: string;
  username: string;
  bot?: boolean;
}

export function userObject(u: FakeUser): Record<string, unknown> {
  return {
    id: u.id,
    username: u.username,
    global_name: u.bot ? null : u.username,
    discriminator: u.bot ? '0001' : '0',
    avatar: null,
    bot: u.bot ?? false,
    public_flags: 0,
    flags: 0,
  };
}

export function memberObject(u: FakeUser): Record<string, unknown> {
  return {
    user: userObject(u),
    roles: [],
    joined_at: '2026-01-01T00:00:00.000000+00:00',
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    nick: null,
    avatar: null,
    premium_since: null,
    communication_disabled_until: null,
    // the member's permissions in the channel: present on interaction members
    permissions: '2248473465835073',
  };
}

export interface FakeChannel {
  id: string;
  /** 0 guild text, 1 DM, 11 public thread */
  type: 0 | 1 | 11;
  guildId?: string;
  name?: string;
  /** threads: the channel they hang off */
  parentId?: string;
  /** DMs: the other person */
  recipient?: FakeUser;
}

export function channelObject(c: FakeChannel): Record<string, unknown> {
  if (c.type === 1) {
    return { id: c.id, type: 1, last_message_id: null, flags: 0, recipients: c.recipient ? [userObject(c.recipient)] : [] };
  }
  const base = {
    id: c.id,
    type: c.type,
    guild_id: c.guildId,
    name: c.name ?? `channel-${c.id.slice(-4)}`,
    position: 0,
    permission_overwrites: [],
    nsfw: false,
    parent_id: c.parentId ?? null,
    topic: null,
    last_message_id: null,
    rate_limit_per_user: 0,
    flags: 0,
  };
  if (c.type === 11) {
    return {
      ...base,
      owner_id: '1',
      message_count: 0,
      member_count: 1,
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: '2026-01-01T00:00:00.000000+00:00', locked: false },
    };
  }
  return base;
}

export interface FakeGuild {
  id: string;
  name: string;
  channels: FakeChannel[];
}

/** The GUILD_CREATE payload discord.js waits for after READY (it lists guilds as unavailable first). */
export function guildCreate(g: FakeGuild, bot: FakeUser): Record<string, unknown> {
  return {
    id: g.id,
    name: g.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    owner_id: bot.id,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: [
      { id: g.id, name: '@everyone', color: 0, hoist: false, icon: null, unicode_emoji: null, position: 0, permissions: '2248473465835073', managed: false, mentionable: false, flags: 0 },
    ],
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: 0,
    preferred_locale: 'en-US',
    public_updates_channel_id: null,
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    safety_alerts_channel_id: null,
    joined_at: '2026-01-01T00:00:00.000000+00:00',
    large: false,
    unavailable: false,
    member_count: 1,
    voice_states: [],
    members: [memberObject(bot)],
    channels: g.channels.filter((c) => c.type === 0).map((c) => channelObject(c)),
    threads: g.channels.filter((c) => c.type === 11).map((c) => channelObject(c)),
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}

export interface StoredAttachment {
  id: string;
  filename: string;
  description?: string;
  content_type: string;
  size: number;
  /** the uploaded bytes, for assertions (not part of the API object) */
  bytes: Uint8Array;
}

/** A message the bot created (interaction response, follow-up or channel message). */
export interface StoredMessage {
  id: string;
  channelId: string;
  content: string;
  embeds: Array<Record<string, unknown>>;
  components: Array<Record<string, unknown>>;
  attachments: StoredAttachment[];
  flags: number;
  /** the interaction it answers, if any */
  interactionId?: string;
  /** true while a deferred response shows "thinking…" */
  loading: boolean;
  deleted: boolean;
  edits: number;
}

export const EPHEMERAL = 64;
const LOADING = 128;

export function messageObject(m: StoredMessage, bot: FakeUser, appId: string, baseUrl: string): Record<string, unknown> {
  return {
    id: m.id,
    channel_id: m.channelId,
    author: userObject(bot),
    content: m.content,
    timestamp: new Date().toISOString(),
    edited_timestamp: m.edits > 0 ? new Date().toISOString() : null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: m.attachments.map((a) => ({
      id: a.id,
      filename: a.filename,
      ...(a.description === undefined ? {} : { description: a.description }),
      content_type: a.content_type,
      size: a.size,
      url: `${baseUrl}/attachments/${m.channelId}/${a.id}/${a.filename}`,
      proxy_url: `${baseUrl}/attachments/${m.channelId}/${a.id}/${a.filename}`,
    })),
    embeds: m.embeds,
    components: m.components,
    pinned: false,
    type: m.interactionId === undefined ? 0 : 20,
    flags: m.flags | (m.loading ? LOADING : 0),
    ...(m.interactionId === undefined ? {} : { webhook_id: appId, application_id: appId }),
  };
}

/** The fields every interaction carries, in a guild channel or a DM. */
export function interactionBase(opts: {
  id: string;
  token: string;
  appId: string;
  type: number;
  user: FakeUser;
  channel: FakeChannel;
}): Record<string, unknown> {
  const { channel, user } = opts;
  const inGuild = channel.type !== 1;
  return {
    id: opts.id,
    application_id: opts.appId,
    type: opts.type,
    token: opts.token,
    version: 1,
    locale: 'en-US',
    app_permissions: '2248473465835073',
    entitlements: [],
    authorizing_integration_owners: inGuild ? { '0': channel.guildId } : { '1': user.id },
    context: inGuild ? 0 : 1,
    attachment_size_limit: 10_485_760,
    channel: channelObject(channel),
    channel_id: channel.id,
    ...(inGuild ? { guild_id: channel.guildId, guild_locale: 'en-US', member: memberObject(user) } : { user: userObject(user) }),
  };
}
