// Live changes: the API's server-sent events (/console/api/changes), read with fetch so that
// the token goes in a header, not in the URL. A dropped stream reconnects with Last-Event-ID
// (the last change's stream sequence) and so misses nothing.

import { authorization, failure } from './api.js';
import type { Change } from './types.js';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'unavailable';

export interface Watch {
  stop(): void;
}

/** One SSE event: its id, its name and its data. */
interface Frame {
  id: string | null;
  event: string;
  data: string;
}

/** Splits what has arrived into whole frames, returning them and what is left over. */
export function frames(buffer: string): [Frame[], string] {
  const parts = buffer.replace(/\r\n/g, '\n').split('\n\n');
  const rest = parts.pop() ?? '';
  const found: Frame[] = [];
  for (const part of parts) {
    const frame: Frame = { id: null, event: 'message', data: '' };
    for (const line of part.split('\n')) {
      const colon = line.indexOf(':');
      if (colon === 0) continue; // a comment: the keep-alive
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') frame.id = value;
      else if (field === 'event') frame.event = value;
      else if (field === 'data') frame.data += (frame.data ? '\n' : '') + value;
    }
    if (frame.data || frame.id !== null) found.push(frame);
  }
  return [found, rest];
}

/** Reads an event stream's frames as they arrive, giving each to `each`, until it ends. */
export async function readFrames(response: Response, each: (frame: Frame) => void): Promise<void> {
  if (!response.ok || !response.body) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const [found, rest] = frames(buffer + value);
    buffer = rest;
    found.forEach(each);
  }
}

/** Follows the caller's changes until stopped; `state` tells how the connection is. */
export function watch(onChange: (change: Change) => void, state: (now: LiveState) => void): Watch {
  let lastId = '';
  let stopped = false;
  let aborter = new AbortController();
  let delay = 1000;

  const read = async (): Promise<void> => {
    const headers: Record<string, string> = { ...authorization(), accept: 'text/event-stream' };
    if (lastId) headers['last-event-id'] = lastId;
    const response = await fetch('api/changes', { headers, signal: aborter.signal });
    if (response.ok && response.body) {
      state('live');
      delay = 1000;
    }
    await readFrames(response, (frame) => {
      if (frame.id) lastId = frame.id;
      if (frame.event === 'change') onChange(JSON.parse(frame.data) as Change);
    });
  };

  const loop = async (): Promise<void> => {
    state('connecting');
    while (!stopped) {
      try {
        await read();
      } catch (error) {
        if (stopped) return;
        // Not built on this server, or not allowed: polling takes over.
        const status = (error as { status?: number }).status;
        if (status === 501 || status === 401 || status === 403) {
          state('unavailable');
          return;
        }
      }
      if (stopped) return;
      state('reconnecting');
      await new Promise((resume) => setTimeout(resume, delay));
      delay = Math.min(delay * 2, 15000);
      aborter = new AbortController();
    }
  };
  void loop();
  return {
    stop() {
      stopped = true;
      aborter.abort();
    },
  };
}
