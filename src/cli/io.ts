/** What a CLI subcommand writes to: process.stdout / stderr, or a buffer in tests. */
export interface WritableLike {
  write(chunk: string): unknown;
  /** a terminal: progress may redraw in place */
  isTTY?: boolean;
  columns?: number;
}
