import type { Channel, Principal } from '../auth/principal.js';
import type { Permissions } from '../auth/permissions.js';
import { block, type Block, type Reply } from '../reply.js';
import type { RegisteredCommand } from './command.js';
import type { CommandRegistry } from './registry.js';

/** `/help`: the commands this person may use here, by plugin, and how many more exist. */
export function helpIndex(registry: CommandRegistry, perms: Permissions, who: Principal, where: Channel): Reply {
  const usable: RegisteredCommand[] = [];
  let hidden = 0;
  for (const c of registry.list()) {
    if (c.spec.permission === null || perms.check(who, c.spec.permission, where).allowed) usable.push(c);
    else hidden++;
  }
  const rows = usable.map((c) => [c.usage, c.spec.summary + guardNote(c)]);
  const blocks: Block[] = [block.table(['command', 'what it does'], rows, { title: 'Commands' })];
  const tail = ['/help <command> shows one command in full.'];
  if (hidden > 0) tail.push(`${hidden} more need permissions you do not have here (/whoami shows yours).`);
  blocks.push(block.text(tail.join(' ')));
  return { blocks };
}

/** `/help <command>`: usage, arguments, permission, guard, aliases, examples. */
export function helpFor(cmd: RegisteredCommand): Reply {
  const s = cmd.spec;
  const blocks: Block[] = [block.text(`${cmd.usage}\n${s.summary}${s.description ? `\n\n${s.description}` : ''}`)];
  const args = Object.entries(s.args ?? {});
  if (args.length > 0) {
    blocks.push(
      block.table(
        ['argument', 'type', 'required', 'about'],
        args.map(([name, a]) => [
          name,
          a.options.hint,
          a.options.required ? 'yes' : a.options.defaultValue !== undefined ? `no (default ${String(a.options.defaultValue)})` : 'no',
          a.options.description ?? '',
        ]),
      ),
    );
  }
  const facts: Array<[string, string]> = [['permission', s.permission ?? 'none (anyone)']];
  if (s.guard === 'confirm') facts.push(['guard', 'asks you to confirm before it runs']);
  if (s.guard === 'four-eyes') facts.push(['guard', 'another person with the same permission must approve']);
  if (typeof s.guard === 'function') facts.push(['guard', 'some forms ask to confirm or need a second person (see the description)']);
  if (s.aliases && s.aliases.length > 0) facts.push(['aliases', s.aliases.map((a) => `/${a}`).join(', ')]);
  facts.push(['plugin', cmd.plugin]);
  blocks.push(block.kv(facts));
  if (s.examples && s.examples.length > 0) blocks.push(block.code(s.examples.join('\n')));
  blocks.push(block.text('Arguments go in order, or as name=value; quote text with spaces.'));
  return { blocks };
}

/** The usage error every parse failure produces: what was wrong, then how to call it. */
export function usageError(cmd: RegisteredCommand, problem: string): Reply {
  return {
    blocks: [block.text(`/${cmd.spec.name}: ${problem}`, 'error'), block.text(`usage: ${cmd.usage}  (/help ${cmd.spec.name} for more)`)],
    private: true,
  };
}

function guardNote(c: RegisteredCommand): string {
  if (c.spec.guard === 'confirm') return ' (confirm)';
  if (c.spec.guard === 'four-eyes') return ' (four-eyes)';
  return '';
}
