/** multipart/form-data as the Bot API takes uploads (sendPhoto, sendDocument). */

export interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

export function parseMultipart(body: Buffer, contentType: string): Part[] {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (boundary === undefined) throw new Error('multipart body without a boundary');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const from = start + delimiter.length;
    if (body.subarray(from, from + 2).toString() === '--') break; // the closing delimiter
    const next = body.indexOf(delimiter, from);
    if (next < 0) break;
    let seg = body.subarray(from, next);
    if (seg.subarray(0, 2).toString() === '\r\n') seg = seg.subarray(2);
    if (seg.subarray(seg.length - 2).toString() === '\r\n') seg = seg.subarray(0, seg.length - 2);
    const headEnd = seg.indexOf('\r\n\r\n');
    const head = headEnd < 0 ? seg.toString('utf8') : seg.subarray(0, headEnd).toString('utf8');
    const data = headEnd < 0 ? Buffer.alloc(0) : seg.subarray(headEnd + 4);
    const headers = new Map<string, string>();
    for (const line of head.split('\r\n')) {
      const h = /^([^:]+):\s*(.*)$/.exec(line);
      if (h) headers.set((h[1] as string).trim().toLowerCase(), h[2] as string);
    }
    const disposition = headers.get('content-disposition') ?? '';
    const name = /\bname="([^"]*)"/.exec(disposition)?.[1];
    if (name !== undefined) {
      const part: Part = { name, data: Buffer.from(data) };
      const filename = /\bfilename="([^"]*)"/.exec(disposition)?.[1];
      if (filename !== undefined) part.filename = filename;
      const type = headers.get('content-type');
      if (type !== undefined) part.contentType = type;
      parts.push(part);
    }
    start = next;
  }
  return parts;
}
