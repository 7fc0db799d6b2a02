import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { AdapterHealth, AdapterHost, ChatAdapter } from '../../kernel/adapters.js';
import type { IncomingMessage } from '../../kernel/commands/dispatcher.js';
import type { Channel, Reply } from '../../kernel/index.js';
import { renderText } from './render.js';

export interface ConsoleDesk {
  handle(msg: IncomingMessage): Promise<Reply | null>;
}

export interface ConsoleOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** interactive: a prompt and colours; otherwise one command per line, replies printed, done at end of input */
  interactive: boolean;
  /** the terminal user's console id (people.<person>.ids.console) */
  userId: string;
  /** where images in replies are saved */
  imageDir: string;
}

/**
 * The terminal as a chat. Lines are handled one at a time, in order, so a script's replies
 * come out in the order of its commands. `#` starts a comment line; `exit` or `quit` ends.
 * Resolves when the input ends or `close()` is called.
 */
export class ConsoleAdapter implements ChatAdapter {
  readonly platform = 'console';
  private rl: Interface | undefined;
  private reading = false;
  private seq = 0;
  private readonly session = `${Date.now().toString(36)}-${process.pid}`;
  private images = 0;

  constructor(
    private readonly desk: ConsoleDesk,
    private readonly opts: ConsoleOptions,
  ) {}

  /** attached to the kernel: posts (halt notices, alerts) are printed between replies */
  async start(_host: AdapterHost): Promise<void> {}

  async stop(): Promise<void> {
    this.close();
  }

  async post(channel: Channel, reply: Reply): Promise<void> {
    const text = renderText(reply, { color: this.opts.interactive, imagePath: (png, alt, filename) => this.saveImage(png, filename ?? alt) });
    this.opts.output.write(`[${channel.platform}:${channel.channelId}] ${text}\n${this.opts.interactive ? '' : '\n'}`);
  }

  health(): AdapterHealth {
    return { connected: true, detail: this.reading ? 'reading the terminal' : 'terminal input ended' };
  }

  async run(): Promise<void> {
    const { opts } = this;
    this.reading = true;
    const rl = createInterface({ input: opts.input, output: opts.interactive ? opts.output : undefined, terminal: opts.interactive });
    this.rl = rl;
    if (opts.interactive) {
      opts.output.write('deskbot terminal desk — /help lists commands, exit quits.\n');
      rl.setPrompt('deskbot> ');
      rl.prompt();
    }
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === 'exit' || line === 'quit') break;
      if (line !== '' && !line.startsWith('#')) await this.one(line);
      if (opts.interactive) rl.prompt();
    }
    rl.close();
    this.reading = false;
  }

  /** Stop reading input (shutdown): the line in progress finishes, no new line is taken. */
  close(): void {
    this.rl?.close();
  }

  private async one(text: string): Promise<void> {
    const msg: IncomingMessage = {
      platform: 'console',
      // unique per process run, so dedupe never drops a repeated command typed again
      id: `${this.session}-${++this.seq}`,
      userId: this.opts.userId,
      channelId: 'terminal',
      text,
    };
    const out = await this.desk.handle(msg);
    if (out === null) return;
    const text2 = renderText(out, { color: this.opts.interactive, imagePath: (png, alt, filename) => this.saveImage(png, filename ?? alt) });
    this.opts.output.write(`${text2}\n${this.opts.interactive ? '' : '\n'}`);
  }

  private saveImage(png: Uint8Array, name: string): string {
    mkdirSync(this.opts.imageDir, { recursive: true });
    const slug = name.replace(/\.png$/i, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40) || 'image';
    const file = path.join(this.opts.imageDir, `${this.session}-${++this.images}-${slug}.png`);
    writeFileSync(file, png);
    return file;
  }
}
