/**
 * Reply: what a command or a scheduled report says, in platform-neutral blocks.
 * Each adapter renders the blocks natively (console: text tables; Slack: Block Kit; ...).
 */

export type Tone = 'info' | 'ok' | 'warn' | 'error';

export type Block =
  | { type: 'text'; text: string; tone?: Tone }
  /** key/value table when `header` is absent and rows have two cells; otherwise a grid */
  | { type: 'table'; title?: string; header?: string[]; rows: string[][]; align?: Array<'left' | 'right'> }
  | { type: 'code'; text: string; language?: string }
  | { type: 'image'; png: Uint8Array; alt: string; filename?: string }
  /** each button runs `command` as the person who presses it, e.g. "/confirm k3x9" */
  | { type: 'buttons'; buttons: Array<{ label: string; command: string; style?: 'primary' | 'danger' }> };

export interface Reply {
  blocks: Block[];
  /** only the asker sees it where the platform supports that (Slack ephemeral); errors and refusals */
  private?: boolean;
}

export const reply = {
  text(text: string, tone?: Tone): Reply {
    return { blocks: [tone ? { type: 'text', text, tone } : { type: 'text', text }] };
  },
  error(text: string): Reply {
    return { blocks: [{ type: 'text', text, tone: 'error' }], private: true };
  },
  of(...blocks: Block[]): Reply {
    return { blocks };
  },
};

export const block = {
  text(text: string, tone?: Tone): Block {
    return tone ? { type: 'text', text, tone } : { type: 'text', text };
  },
  /** a key/value table from an object or entries; values are stringified */
  kv(entries: Record<string, string | number | boolean> | Array<[string, string | number | boolean]>, title?: string): Block {
    const list = Array.isArray(entries) ? entries : Object.entries(entries);
    const rows = list.map(([k, v]) => [k, String(v)]);
    return title === undefined ? { type: 'table', rows } : { type: 'table', title, rows };
  },
  table(header: string[], rows: string[][], opts: { title?: string; align?: Array<'left' | 'right'> } = {}): Block {
    return { type: 'table', header, rows, ...opts };
  },
  code(text: string, language?: string): Block {
    return language ? { type: 'code', text, language } : { type: 'code', text };
  },
  buttons(buttons: Array<{ label: string; command: string; style?: 'primary' | 'danger' }>): Block {
    return { type: 'buttons', buttons };
  },
};
