import { describe, expect, it } from 'vitest';
import { Permissions, permissionMatches } from '../../src/kernel/auth/permissions.js';
import { testConfig } from '../helpers/kernel.js';

const desk = { platform: 'slack', channelId: 'C0DESK' };
const lounge = { platform: 'slack', channelId: 'C0LOUNGE' };
const term = { platform: 'console', channelId: 'terminal' };

function perms(channelRules: unknown[] = []) {
  return new Permissions(testConfig({ channelRules }));
}

describe('permission patterns', () => {
  it.each([
    ['*', 'trade:execute', true],
    ['trade:*', 'trade:execute', true],
    ['trade:*', 'trader:x', false],
    ['trade:execute', 'trade:execute', true],
    ['trade:execute', 'trade:read', false],
    ['market:read', 'trade:execute', false],
  ])('%s grants %s: %s', (pattern, permission, expected) => {
    expect(permissionMatches(pattern, permission)).toBe(expected);
  });
});

describe('the permission matrix', () => {
  const p = perms();
  const who = (platform: string, id: string) => p.identify(platform, id);

  it('maps platform user ids to people and roles', () => {
    expect(who('slack', 'U_TOM')).toMatchObject({ person: 'tom', displayName: 'Tom Trader', roles: ['trader'] });
    expect(who('telegram', '1001')).toMatchObject({ person: 'ann' });
    // the same id on another platform is somebody else
    expect(who('telegram', 'U_TOM')).toMatchObject({ person: null, roles: [] });
  });

  it.each([
    // person, permission, allowed
    ['vic', 'market:read', true],
    ['vic', 'trade:execute', false],
    ['tom', 'trade:execute', true],
    ['tom', 'risk:halt', false],
    ['tom', 'admin:audit', false],
    ['ann', 'risk:halt', true],
    ['ann', 'admin:audit', true],
    ['ann', 'anything:new', true],
  ])('%s → %s: %s', (person, permission, allowed) => {
    expect(p.check(who('console', person), permission, term).allowed).toBe(allowed);
  });

  it('denies everything to people config does not know, and says who they are', () => {
    const stranger = who('telegram', '99999');
    for (const perm of ['market:read', 'trade:execute', 'admin:audit']) {
      const d = p.check(stranger, perm, term);
      expect(d.allowed).toBe(false);
      expect(d.reason).toContain('unknown telegram user 99999');
    }
  });

  it('explains a denial with the roles held', () => {
    expect(p.check(who('console', 'vic'), 'trade:execute', term).reason).toBe('trade:execute is not granted to vic (roles: viewer)');
  });
});

describe('channel rules narrow, never widen', () => {
  const p = perms([
    { name: 'desk-only', permissions: ['trade:*'], effect: 'only', channels: ['slack:C0DESK', 'console:*'] },
    { name: 'no-admin-in-lounge', permissions: ['admin:*'], effect: 'deny', channels: ['slack:C0LOUNGE'] },
  ]);
  const tom = p.identify('slack', 'U_TOM');
  const ann = p.identify('telegram', '1001');
  const vic = p.identify('console', 'vic');

  it('"only": trading in the desk channel and the terminal, nowhere else', () => {
    expect(p.check(tom, 'trade:execute', desk).allowed).toBe(true);
    expect(p.check(tom, 'trade:execute', term).allowed).toBe(true);
    const d = p.check(tom, 'trade:execute', lounge);
    expect(d).toEqual({ allowed: false, reason: 'trade:execute is only allowed in slack:C0DESK, console:* (channel rule "desk-only")' });
    // even an admin
    expect(p.check(ann, 'trade:execute', { platform: 'telegram', channelId: '-100' }).allowed).toBe(false);
  });

  it('"deny": blocks in the listed channel only', () => {
    expect(p.check(ann, 'admin:audit', lounge).allowed).toBe(false);
    expect(p.check(ann, 'admin:audit', desk).allowed).toBe(true);
  });

  it('a rule cannot grant what no role gives', () => {
    expect(p.check(vic, 'trade:execute', desk).allowed).toBe(false);
  });

  it('rules leave other permissions alone', () => {
    expect(p.check(tom, 'market:read', lounge).allowed).toBe(true);
  });
});
