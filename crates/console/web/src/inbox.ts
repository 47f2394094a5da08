// The inbox: views with their counts (mine, unassigned, all, and each queue), the list of the
// chosen view most urgent first, kept current by live changes.

import { call, me, query } from './api.js';
import { find, h, show } from './dom.js';
import { dueWithin, relative } from './format.js';
import { named, t, type Key } from './i18n.js';
import { go, type InboxView } from './route.js';
import { belongs, filters, upsert } from './rows.js';
import { describe, state } from './state.js';
import type { Conversation, Overview, Page } from './types.js';

const STATUSES = ['', 'escalated', 'queued', 'assigned', 'pending', 'open', 'resolved'];

let currentView: InboxView = 'mine';
let rowsLoaded: () => void = () => {};

/** What follows a new list (the open conversation may only now be known). */
export function onRowsLoaded(then: () => void): void {
  rowsLoaded = then;
}

function subject(): string {
  return me()?.subject ?? '';
}

/** The inbox's frame: views on the left, the list, and the conversation's place. */
export function renderInbox(root: HTMLElement, view: InboxView): void {
  currentView = view;
  show(
    root,
    h('nav', { class: 'views', 'aria-label': t('inbox.views') }),
    h('section', { class: 'list', 'aria-label': t('inbox.list') }),
    h('section', { id: 'conversation', class: 'conversation' }, h('p', { class: 'muted center' }, t('conversation.none'))),
  );
  renderViews();
  void loadRows();
  void loadOverview();
}

export function inboxShown(): boolean {
  return document.querySelector('.list') !== null;
}

export async function loadOverview(): Promise<void> {
  try {
    state.overview = await call<Overview>('GET', 'overview');
  } catch {
    state.overview = null; // the counts show as unknown; the lists still work
  }
  if (inboxShown()) renderViews();
}

function viewLink(view: InboxView, label: string, count: number | undefined): HTMLElement {
  const selected = view === currentView;
  return h(
    'a',
    { href: `#/inbox/${encodeURIComponent(view)}`, class: selected ? 'view selected' : 'view', 'data-view': view, 'aria-current': selected ? 'page' : undefined },
    h('span', {}, label),
    h('span', { class: 'count', 'data-count': view }, count === undefined ? '–' : count),
  );
}

function renderViews(): void {
  const nav = document.querySelector<HTMLElement>('nav.views');
  if (!nav) return;
  const counts = state.overview;
  const queues = counts?.queues ?? [];
  show(
    nav,
    viewLink('mine', t('inbox.mine'), counts?.mine),
    viewLink('unassigned', t('inbox.unassigned'), counts?.unassigned),
    viewLink('all', t('inbox.all'), counts?.all),
    queues.length ? h('h3', {}, t('inbox.queues')) : null,
    queues.map((queue) => viewLink(`queue:${queue.queue}`, queue.queue, queue.waiting)),
  );
}

/** Lists the view's first page (or, with `more`, the next one). */
export async function loadRows(more = false): Promise<void> {
  const list = document.querySelector<HTMLElement>('section.list');
  if (!list) return;
  try {
    const asked = { ...filters(currentView, state.statusFilter), page_size: 50, cursor: more ? state.cursor : undefined };
    const page = await call<Page>('GET', `conversations${query(asked)}`);
    const shown = page.conversations.filter((row) => belongs(row, currentView, subject(), state.statusFilter));
    state.rows = more ? [...state.rows, ...shown] : shown;
    state.cursor = page.next_cursor;
    renderRows();
    rowsLoaded();
  } catch (error) {
    show(list, h('p', { class: 'error' }, describe(error)));
  }
}

/** A live change: the row moves, arrives or leaves. */
export function applyRow(changed: Conversation): void {
  const keep = belongs(changed, currentView, subject(), state.statusFilter);
  state.rows = upsert(state.rows, changed, keep);
  if (inboxShown()) renderRows();
}

function statusFilter(): HTMLElement {
  const select = h(
    'select',
    { 'aria-label': t('inbox.statusFilter'), class: 'status-filter' },
    STATUSES.map((status) =>
      h('option', { value: status, selected: status === state.statusFilter }, status ? named('status', status) : t('inbox.openWork')),
    ),
  );
  select.addEventListener('change', () => {
    state.statusFilter = select.value;
    void loadRows();
  });
  return select;
}

function sla(row: Conversation): HTMLElement | null {
  if (row.sla_breached) return h('span', { class: 'sla breached' }, t('sla.breached'));
  if (!row.sla_due_at) return null;
  const risky = dueWithin(row.sla_due_at, 30);
  return h('span', { class: risky ? 'sla at-risk' : 'sla' }, t('sla.due', { when: relative(row.sla_due_at) }));
}

function rowItem(row: Conversation): HTMLElement {
  const selected = row.conversation_id === state.selected;
  const open = (): void => go({ screen: 'inbox', view: currentView, conversation: row.conversation_id });
  return h(
    'li',
    { class: selected ? 'row selected' : 'row', 'data-id': row.conversation_id, 'data-status': row.status, 'aria-selected': selected ? 'true' : 'false', tabindex: 0, onclick: open, onkeydown: (event: Event) => (event as KeyboardEvent).key === 'Enter' && open() },
    h('div', { class: 'row-top' }, h('strong', {}, row.customer_id), h('span', { class: `badge status-${row.status}` }, named('status', row.status)), h('span', { class: `priority p-${row.priority}` }, named('priority', row.priority))),
    h('div', { class: 'preview' }, row.preview),
    h(
      'div',
      { class: 'row-meta' },
      h('span', {}, named('channel', row.channel)),
      row.queue ? h('span', {}, row.queue) : null,
      h('span', { class: 'assignee' }, row.assignee ? t('conversation.heldBy', { agent: row.assignee }) : t('conversation.unassigned')),
      row.handoff_reason ? h('span', {}, named('reason', row.handoff_reason)) : null,
      sla(row),
    ),
  );
}

function renderRows(): void {
  const list = find(document, 'section.list');
  const more = state.cursor ? h('button', { class: 'link', onclick: () => void loadRows(true) }, t('inbox.more')) : null;
  const title = `inbox.title.${currentView.startsWith('queue:') ? 'queue' : currentView}` as Key;
  show(
    list,
    h('header', {}, h('h2', {}, t(title, { queue: currentView.slice('queue:'.length) })), statusFilter()),
    state.rows.length ? h('ul', { class: 'rows' }, state.rows.map(rowItem)) : h('p', { class: 'muted center' }, t('inbox.empty')),
    more,
  );
}

/** The next (or previous) conversation of the list, for the keyboard. */
export function step(delta: number): void {
  if (!state.rows.length) return;
  const at = state.rows.findIndex((row) => row.conversation_id === state.selected);
  const next = state.rows[Math.min(Math.max(at + delta, 0), state.rows.length - 1)];
  if (next) go({ screen: 'inbox', view: currentView, conversation: next.conversation_id });
}

export function inboxView(): InboxView {
  return currentView;
}

/** Marks the open conversation's row. */
export function markSelected(): void {
  for (const item of document.querySelectorAll<HTMLElement>('li.row')) {
    const selected = item.dataset['id'] === state.selected;
    item.classList.toggle('selected', selected);
    item.setAttribute('aria-selected', selected ? 'true' : 'false');
  }
}
