// Typing, both ways: the customer typing in the open conversation shows under its messages
// (the API's server-sent events, read with fetch so that the token goes in a header), and the
// agent typing a reply tells the customer's chat, at most every few seconds.

import { authorization, call } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { readFrames } from './live.js';

/** How long the line stays after the customer's last keystroke signal. */
const SHOWN_MS = 6000;
/** The least time between two signals of the agent's typing. */
const SIGNAL_EVERY_MS = 3000;

let line: HTMLElement | null = null;
let hideTimer: number | undefined;
let watching: { id: string; aborter: AbortController } | null = null;
let lastSignal = 0;

/** The line that says the customer is typing (the same element across redraws). */
export function typingLine(): HTMLElement {
  line ??= h('p', { class: 'typing muted', 'aria-live': 'polite' });
  return line;
}

function shown(): void {
  const line = typingLine();
  line.textContent = t('conversation.customerTyping');
  line.dataset['typing'] = 'customer';
  clearTimeout(hideTimer);
  hideTimer = window.setTimeout(hidden, SHOWN_MS);
}

function hidden(): void {
  const line = typingLine();
  line.textContent = '';
  delete line.dataset['typing'];
}

async function follow(id: string, signal: AbortSignal): Promise<void> {
  const headers = { ...authorization(), accept: 'text/event-stream' };
  const response = await fetch(`api/conversations/${encodeURIComponent(id)}/typing`, { headers, signal });
  await readFrames(response, (frame) => {
    if (frame.event === 'typing') shown();
  });
}

/** Stops following the customer's typing (signed out, or no conversation open). */
export function stopTyping(): void {
  watching?.aborter.abort();
  watching = null;
  hidden();
}

/** Follows the customer's typing in conversation `id` (and stops following the last one). */
export function watchTyping(id: string): void {
  if (watching?.id === id) return;
  stopTyping();
  const mine = { id, aborter: new AbortController() };
  watching = mine;
  void (async () => {
    let delay = 1000;
    while (watching === mine) {
      try {
        await follow(id, mine.aborter.signal);
        delay = 1000;
      } catch (error) {
        const status = (error as { status?: number }).status;
        if (watching !== mine) return;
        // Not allowed, gone, or not built on this server: no typing line, nothing else lost
        // (opening the conversation again tries again).
        if (status === 401 || status === 403 || status === 404 || status === 501) {
          watching = null;
          return;
        }
      }
      await new Promise((resume) => setTimeout(resume, delay));
      delay = Math.min(delay * 2, 15000);
    }
  })();
}

/** The agent typed in the reply box of conversation `id`. */
export function typed(id: string): void {
  const now = Date.now();
  if (now - lastSignal < SIGNAL_EVERY_MS) return;
  lastSignal = now;
  call('POST', `conversations/${encodeURIComponent(id)}/typing`).catch(() => {
    // A lost typing signal is harmless: the reply itself follows.
  });
}
