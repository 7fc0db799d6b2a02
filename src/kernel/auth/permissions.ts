import type { ChannelRule, PersonConfig } from '../config/schema.js';
import type { Channel, Principal } from './principal.js';

export interface Decision {
  allowed: boolean;
  /** one sentence for the audit log and, when denied, for the person */
  reason: string;
}

export interface PermissionsConfig {
  people: Record<string, PersonConfig>;
  roles: Record<string, string[]>;
  channelRules: ChannelRule[];
}

/** "*" matches everything, "trade:*" everything under trade, anything else only itself. */
export function permissionMatches(pattern: string, permission: string): boolean {
  if (pattern === '*' || pattern === permission) return true;
  if (pattern.endsWith(':*')) return permission.startsWith(pattern.slice(0, -1));
  return false;
}

function channelMatches(pattern: string, channel: Channel): boolean {
  const colon = pattern.indexOf(':');
  const p = pattern.slice(0, colon);
  const c = pattern.slice(colon + 1);
  return (p === '*' || p === channel.platform) && (c === '*' || c === channel.channelId);
}

/**
 * Deny by default: a permission holds only when one of the person's roles grants it and no
 * channel rule narrows it away in this channel. Config is fixed for a run, so decisions are
 * memoised per (person, permission, channel) to keep the dispatch path cheap.
 */
export class Permissions {
  private readonly byPlatformId = new Map<string, string>();
  private readonly memo = new Map<string, Decision>();

  constructor(private readonly config: PermissionsConfig) {
    for (const [person, p] of Object.entries(config.people)) {
      for (const [platform, ids] of Object.entries(p.ids)) {
        for (const id of Array.isArray(ids) ? ids : [ids]) this.byPlatformId.set(`${platform}\u0000${id}`, person);
      }
    }
  }

  identify(platform: string, userId: string, platformName?: string): Principal {
    const person = this.byPlatformId.get(`${platform}\u0000${userId}`) ?? null;
    const cfg = person === null ? undefined : this.config.people[person];
    return {
      platform,
      userId,
      person,
      displayName: cfg?.name ?? platformName ?? userId,
      roles: cfg?.roles ?? [],
    };
  }

  /** every permission pattern the principal's roles grant (before channel rules) */
  granted(principal: Principal): string[] {
    const out = new Set<string>();
    for (const role of principal.roles) for (const p of this.config.roles[role] ?? []) out.add(p);
    return [...out].sort();
  }

  check(principal: Principal, permission: string, channel: Channel): Decision {
    const key = `${principal.person ?? `?${principal.platform}:${principal.userId}`}\u0000${permission}\u0000${channel.platform}:${channel.channelId}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    const d = this.decide(principal, permission, channel);
    if (this.memo.size > 50_000) this.memo.clear();
    this.memo.set(key, d);
    return d;
  }

  private decide(principal: Principal, permission: string, channel: Channel): Decision {
    if (principal.person === null) {
      return { allowed: false, reason: `unknown ${principal.platform} user ${principal.userId}: not in config, no permissions` };
    }
    const role = principal.roles.find((r) => (this.config.roles[r] ?? []).some((p) => permissionMatches(p, permission)));
    if (role === undefined) {
      const roles = principal.roles.length > 0 ? principal.roles.join(', ') : 'none';
      return { allowed: false, reason: `${permission} is not granted to ${principal.person} (roles: ${roles})` };
    }
    for (const rule of this.config.channelRules) {
      if (!rule.permissions.some((p) => permissionMatches(p, permission))) continue;
      const here = rule.channels.some((c) => channelMatches(c, channel));
      const label = rule.name ? `channel rule "${rule.name}"` : 'a channel rule';
      if (rule.effect === 'only' && !here) {
        return { allowed: false, reason: `${permission} is only allowed in ${rule.channels.join(', ')} (${label})` };
      }
      if (rule.effect === 'deny' && here) {
        return { allowed: false, reason: `${permission} is not allowed in ${channel.platform}:${channel.channelId} (${label})` };
      }
    }
    return { allowed: true, reason: `${permission} granted by role ${role}` };
  }
}
