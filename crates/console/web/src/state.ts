// What the console holds while it runs, and the notices it shows.

import { ApiFailure } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import type { LiveState } from './live.js';
import type { Conversation, Overview, View } from './types.js';

export const state = {
  /** The inbox's rows as listed (and updated live), and the cursor of the next page. */
  rows: [] as Conversation[],
  cursor: '',
  /** A status to list only; empty: the open work of the view. */
  statusFilter: '',
  overview: null as Overview | null,
  /** The conversation open, as listed and as viewed in full. */
  selected: null as string | null,
  view: null as View | null,
  viewError: '',
  live: 'connecting' as LiveState,
};

/** Why an action failed, in the console's language with the API's own words. */
export function describe(error: unknown): string {
  if (error instanceof ApiFailure) {
    if (error.status === 501) return t('error.notBuilt', { detail: error.message });
    if (error.status === 403) return t('error.forbidden', { detail: error.message });
    return t('error.failed', { detail: error.message });
  }
  return t('error.offline');
}

/** Shows a notice at the top for a while (errors until dismissed). */
export function notify(text: string, kind: 'info' | 'error' = 'info'): void {
  const area = document.querySelector('#notices');
  if (!area) return;
  const close = h('button', { class: 'link', 'aria-label': t('action.dismiss') }, '×');
  const notice = h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, h('span', {}, text), close);
  close.addEventListener('click', () => notice.remove());
  area.append(notice);
  if (kind === 'info') setTimeout(() => notice.remove(), 6000);
}
