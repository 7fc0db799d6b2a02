/**
 * The limits Discord's API enforces on what a bot sends, so a rendering bug fails the way it
 * would in production: a 400 with code 50035 "Invalid Form Body". Each function returns the
 * problems found (empty when the payload is valid).
 */

type Json = Record<string, unknown>;

const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function messageProblems(data: Json, fileCount: number): string[] {
  const out: string[] = [];
  const content = str(data.content);
  if (content.length > 2000) out.push(`content: must be 2000 or fewer in length (${content.length})`);
  const embeds = arr(data.embeds);
  if (embeds.length > 10) out.push(`embeds: must be 10 or fewer in length (${embeds.length})`);
  let total = 0;
  embeds.forEach((e, i) => {
    const title = str(e.title);
    const description = str(e.description);
    if (title.length > 256) out.push(`embeds.${i}.title: must be 256 or fewer in length`);
    if (description.length > 4096) out.push(`embeds.${i}.description: must be 4096 or fewer in length (${description.length})`);
    const fields = arr(e.fields);
    if (fields.length > 25) out.push(`embeds.${i}.fields: must be 25 or fewer in length (${fields.length})`);
    total += title.length + description.length;
    fields.forEach((f, j) => {
      const name = str(f.name);
      const value = str(f.value);
      if (name.length === 0 || name.length > 256) out.push(`embeds.${i}.fields.${j}.name: must be between 1 and 256 in length`);
      if (value.length === 0 || value.length > 1024) out.push(`embeds.${i}.fields.${j}.value: must be between 1 and 1024 in length (${value.length})`);
      total += name.length + value.length;
    });
    const footer = e.footer as Json | undefined;
    if (footer) total += str(footer.text).length;
    const author = e.author as Json | undefined;
    if (author) total += str(author.name).length;
  });
  if (total > 6000) out.push(`embeds: the combined sum of characters in all embeds must be 6000 or fewer (${total})`);
  const rows = arr(data.components);
  if (rows.length > 5) out.push(`components: must be 5 or fewer in length`);
  const ids = new Set<string>();
  rows.forEach((row, i) => {
    if (row.type !== 1) out.push(`components.${i}.type: expected an action row (1)`);
    const buttons = arr(row.components);
    if (buttons.length === 0 || buttons.length > 5) out.push(`components.${i}.components: must be between 1 and 5 in length`);
    buttons.forEach((b, j) => {
      if (b.type !== 2) out.push(`components.${i}.components.${j}.type: expected a button (2)`);
      const label = str(b.label);
      if (label.length > 80) out.push(`components.${i}.components.${j}.label: must be 80 or fewer in length`);
      const id = str(b.custom_id);
      if (b.style !== 5 && (id.length === 0 || id.length > 100)) out.push(`components.${i}.components.${j}.custom_id: must be between 1 and 100 in length`);
      if (ids.has(id)) out.push(`components.${i}.components.${j}.custom_id: component custom id cannot be duplicated`);
      ids.add(id);
      if (![1, 2, 3, 4, 5].includes(Number(b.style))) out.push(`components.${i}.components.${j}.style: invalid button style`);
    });
  });
  if (fileCount > 10) out.push(`files: at most 10 attachments per message`);
  return out;
}

const NAME = /^[-_\p{L}\p{N}]{1,32}$/u;

/** Checks one PUT body of application commands (chat input commands only). */
export function commandProblems(body: unknown): string[] {
  if (!Array.isArray(body)) return ['body: expected an array of commands'];
  const out: string[] = [];
  if (body.length > 100) out.push(`body: at most 100 commands (${body.length})`);
  const names = new Set<string>();
  (body as Json[]).forEach((c, i) => {
    const name = str(c.name);
    if (!NAME.test(name) || name !== name.toLowerCase()) out.push(`${i}.name: invalid command name "${name}"`);
    if (names.has(name)) out.push(`${i}.name: application command names must be unique`);
    names.add(name);
    const description = str(c.description);
    if (description.length < 1 || description.length > 100) out.push(`${i}.description: must be between 1 and 100 in length`);
    if (c.type !== undefined && c.type !== 1) out.push(`${i}.type: only chat input commands are expected`);
    const options = arr(c.options);
    if (options.length > 25) out.push(`${i}.options: must be 25 or fewer in length`);
    let optionalSeen = false;
    const optionNames = new Set<string>();
    options.forEach((o, j) => {
      const on = str(o.name);
      if (!NAME.test(on) || on !== on.toLowerCase()) out.push(`${i}.options.${j}.name: invalid option name "${on}"`);
      if (optionNames.has(on)) out.push(`${i}.options.${j}.name: option names must be unique`);
      optionNames.add(on);
      const od = str(o.description);
      if (od.length < 1 || od.length > 100) out.push(`${i}.options.${j}.description: must be between 1 and 100 in length`);
      if (![3, 4, 5, 10].includes(Number(o.type))) out.push(`${i}.options.${j}.type: unexpected option type ${String(o.type)}`);
      if (o.required === true && optionalSeen) out.push(`${i}.options.${j}.required: required options must be placed before non-required options`);
      if (o.required !== true) optionalSeen = true;
      const choices = arr(o.choices);
      if (choices.length > 25) out.push(`${i}.options.${j}.choices: must be 25 or fewer in length`);
      if (choices.length > 0 && o.autocomplete === true) out.push(`${i}.options.${j}.autocomplete: cannot be used with choices`);
      choices.forEach((ch, k) => {
        const cn = str(ch.name);
        if (cn.length < 1 || cn.length > 100) out.push(`${i}.options.${j}.choices.${k}.name: must be between 1 and 100 in length`);
      });
    });
  });
  return out;
}
