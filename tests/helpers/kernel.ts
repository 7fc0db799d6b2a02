import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { ManualClock } from '../../src/kernel/clock.js';
import type { IncomingMessage } from '../../src/kernel/commands/dispatcher.js';
import { configSchema, type DeskbotConfig } from '../../src/kernel/config/schema.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import type { PluginManifest, Reply } from '../../src/kernel/index.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { renderText } from '../../src/adapters/console/render.js';
import type { KernelStore } from '../../src/kernel/store.js';
import type { LiveBroker } from '../../src/kernel/orders/live-switch.js';

/** A desk with three people: ann (admin), tom and tess (traders), vic (viewer). */
export function testConfig(overrides: Record<string, unknown> = {}): DeskbotConfig {
  return configSchema.parse({
    instance: 'test',
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'deskbot-test-')),
    log: { level: 'silent' },
    store: { kind: 'memory' },
    console: { as: 'ann' },
    people: {
      ann: { name: 'Ann Admin', roles: ['admin'], ids: { console: 'ann', telegram: '1001' } },
      tom: { name: 'Tom Trader', roles: ['trader'], ids: { console: 'tom', slack: 'U_TOM' } },
      tess: { name: 'Tess Trader', roles: ['trader'], ids: { console: 'tess' } },
      vic: { name: 'Vic Viewer', roles: ['viewer'], ids: { console: 'vic' } },
    },
    roles: {
      viewer: ['market:read'],
      trader: ['market:read', 'trade:execute', 'trade:read', 'alerts:mute'],
      admin: ['*'],
    },
    ...overrides,
  });
}

export interface TestDesk {
  kernel: Kernel;
  clock: ManualClock;
  /** send a line as a console person; returns the rendered reply ('' for none) */
  say(person: string, text: string, where?: Partial<IncomingMessage>): Promise<string>;
  raw(person: string, text: string, where?: Partial<IncomingMessage>): Promise<Reply | null>;
}

let n = 0;

export async function startDesk(
  opts: {
    plugins?: PluginManifest[];
    config?: DeskbotConfig;
    clockAt?: number;
    store?: KernelStore;
    liveBroker?: () => Promise<LiveBroker>;
    /** environment the secrets are read from (exchange keys for live trading) */
    env?: Record<string, string>;
  } = {},
): Promise<TestDesk> {
  const config = opts.config ?? testConfig();
  const clock = new ManualClock(opts.clockAt ?? Date.UTC(2026, 10, 27, 9, 0, 0));
  const kernel = await Kernel.start({
    config,
    secrets: readSecrets(opts.env ?? {}),
    logger: pino({ level: 'silent' }),
    clock,
    plugins: opts.plugins ?? [],
    discover: false,
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.liveBroker ? { liveBroker: opts.liveBroker } : {}),
  });
  const raw = (person: string, text: string, where: Partial<IncomingMessage> = {}): Promise<Reply | null> =>
    kernel.handle({ platform: 'console', id: `t${++n}`, userId: person, channelId: 'terminal', text, ...where });
  return {
    kernel,
    clock,
    raw,
    say: async (person, text, where) => {
      const r = await raw(person, text, where);
      return r === null ? '' : renderText(r);
    },
  };
}
