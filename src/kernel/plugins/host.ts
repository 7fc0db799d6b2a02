import type { Logger } from 'pino';
import type { FoundPlugin } from './discover.js';
import { configError } from './discover.js';
import type { PluginContext, Services, Teardown } from './plugin.js';

/** What the host needs from the kernel to build each plugin's context. */
export type ContextFactory = (
  plugin: FoundPlugin,
  config: unknown,
  hooks: { onClose(fn: Teardown): void; provide(name: string, service: unknown): void; use(name: string): unknown },
) => PluginContext<unknown>;

interface Loaded {
  name: string;
  version: string;
  closers: Teardown[];
}

/**
 * Sets plugins up in the given order (see orderByNeeds) and tears them down in reverse.
 * Like Fastify's encapsulation: a plugin reaches only the services of plugins it `needs`.
 */
export class PluginHost {
  private readonly loaded: Loaded[] = [];
  private readonly services = new Map<string, { owner: string; service: unknown }>();

  constructor(private readonly logger: Logger) {}

  list(): Array<{ name: string; version: string }> {
    return this.loaded.map(({ name, version }) => ({ name, version }));
  }

  /**
   * Validates every plugin's config first (so a bad config stops start-up before anything
   * runs), then awaits each setup in order. On a failure, what was set up is torn down and
   * the error names the plugin.
   */
  async setupAll(ordered: readonly FoundPlugin[], settings: Record<string, unknown>, makeContext: ContextFactory): Promise<void> {
    const configs = new Map<string, unknown>();
    for (const p of ordered) {
      const { manifest } = p;
      const section = settings[manifest.name] ?? {};
      if (!manifest.config) {
        configs.set(manifest.name, section);
        continue;
      }
      const r = manifest.config.safeParse(section);
      if (!r.success) throw new Error(configError(manifest.name, r.error));
      configs.set(manifest.name, r.data);
    }
    for (const name of Object.keys(settings)) {
      if (!ordered.some((p) => p.manifest.name === name)) this.logger.warn({ plugin: name }, 'config has settings for a plugin that is not loaded');
    }

    for (const p of ordered) {
      const { manifest } = p;
      const entry: Loaded = { name: manifest.name, version: manifest.version, closers: [] };
      const needs = new Set(manifest.needs ?? []);
      const ctx = makeContext(p, configs.get(manifest.name), {
        onClose: (fn) => entry.closers.push(fn),
        provide: (name, service) => {
          const taken = this.services.get(name);
          if (taken) throw new Error(`plugin ${manifest.name}: service "${name}" is already provided by ${taken.owner}`);
          this.services.set(name, { owner: manifest.name, service });
        },
        use: (name) => {
          const s = this.services.get(name);
          if (!s) throw new Error(`plugin ${manifest.name}: no plugin provides service "${name}"`);
          if (s.owner !== manifest.name && !needs.has(s.owner)) {
            throw new Error(`plugin ${manifest.name}: uses service "${name}" of ${s.owner} without listing ${s.owner} in needs`);
          }
          return s.service;
        },
      });
      this.loaded.push(entry);
      try {
        const teardown = await manifest.setup(ctx);
        if (typeof teardown === 'function') entry.closers.push(teardown);
        this.logger.debug({ plugin: manifest.name, version: manifest.version }, 'plugin ready');
      } catch (e) {
        await this.teardownAll();
        const why = e instanceof Error ? e.message : String(e);
        throw new Error(why.startsWith(`plugin ${manifest.name}`) ? why : `plugin ${manifest.name}: setup failed: ${why}`);
      }
    }
  }

  /** Reverse order; within a plugin, the last registered closer runs first. Errors are logged, not thrown. */
  async teardownAll(): Promise<void> {
    while (this.loaded.length > 0) {
      const entry = this.loaded.pop() as Loaded;
      for (const fn of entry.closers.reverse()) {
        try {
          await fn();
        } catch (err) {
          this.logger.error({ err, plugin: entry.name }, 'plugin teardown failed');
        }
      }
      for (const [name, s] of this.services) if (s.owner === entry.name) this.services.delete(name);
    }
  }
}

export type { Services };
