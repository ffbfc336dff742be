// Server-Sent Events framing (the WHATWG `text/event-stream` format): text in, one frame out
// per blank line, with its `id`, `event` and `data` fields; comments (`: keep-alive`) skipped.
// Only the framing: what a frame means is events.ts's job.

export interface Frame {
  id: string | undefined;
  event: string;
  data: string;
}

/** A decoder fed chunks of text as they arrive; returns the frames each chunk completed. */
export function sseDecoder(): (chunk: string) => Frame[] {
  let pending = '';
  let id: string | undefined;
  let event = '';
  let data: string[] = [];
  return (chunk) => {
    pending += chunk;
    const frames: Frame[] = [];
    let end: number;
    while ((end = pending.search(/\r\n|\r|\n/)) >= 0) {
      // A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (pending[end] === '\r' && end === pending.length - 1) break;
      const line = pending.slice(0, end);
      pending = pending.slice(end + (pending.startsWith('\r\n', end) ? 2 : 1));
      if (line === '') {
        if (data.length > 0 || id !== undefined) frames.push({ id, event: event || 'message', data: data.join('\n') });
        id = undefined;
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    return frames;
  };
}
