/**
 * The kernel's public API: the only module a plugin imports.
 *
 *   import { definePlugin, defineCommand, arg, reply, block } from '../../src/kernel/index.js';
 */
export { definePlugin } from './plugins/plugin.js';
export type { KernelInfo, PluginContext, PluginManifest, Services, Teardown } from './plugins/plugin.js';
export { defineCommand } from './commands/command.js';
export type { CommandContext, CommandSpec, Guard } from './commands/command.js';
export { arg, ArgSpec, readDuration, readNumber, readQuantity } from './commands/args.js';
export type { ArgShape, ArgsOf, Quantity } from './commands/args.js';
export { reply, block } from './reply.js';
export type { Block, Reply, Tone } from './reply.js';
export type { Channel, Principal } from './auth/principal.js';
export type { KernelEvents } from './events.js';
export type { HaltStatus } from './halt.js';
export type { ScheduleSpec } from './scheduler.js';
export type { Clock } from './clock.js';
export { UserError } from './errors.js';
