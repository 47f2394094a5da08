// One conversation as a person works it: who and what, the actions (claim, release, transfer,
// pending, resolve, reopen), every message and note, the packet and the customer, the reply box.

import { ApiFailure, call, me, query } from './api.js';
import { composer, insert } from './composer.js';
import { h, show } from './dom.js';
import { relative, when } from './format.js';
import { named, t } from './i18n.js';
import { applyRow, loadRows, markSelected } from './inbox.js';
import { customerPanel, handoffPanel, routingPanel, slaPanel, suggestionsPanel } from './panels.js';
import { describe, notify, state } from './state.js';
import { transferForm } from './transfer.js';
import { typingLine, watchTyping } from './typing.js';
import type { Conversation, Entry, View, Written } from './types.js';

/** Why the last claim was refused, shown until another conversation opens. */
let refusal = '';
/** The open conversation as last known (from its view, the list or a change of one's own). */
let known: Conversation | null = null;

function row(): Conversation | null {
  const listed = state.rows.find((found) => found.conversation_id === state.selected);
  const fresh = state.view?.conversation ?? listed ?? null;
  if (fresh && (!known || known.conversation_id !== fresh.conversation_id || BigInt(fresh.sequence) >= BigInt(known.sequence))) {
    known = fresh;
  }
  return known?.conversation_id === state.selected ? known : null;
}

/** Opens a conversation: its row at once, then the whole view. */
export async function openConversation(id: string): Promise<void> {
  if (state.selected !== id) {
    state.view = null;
    state.viewError = '';
    refusal = '';
    transferring = null;
  }
  state.selected = id;
  watchTyping(id);
  markSelected();
  render();
  await reload();
}

/** Reads the open conversation again, once the desk has applied `minSequence`. */
export async function reload(minSequence = ''): Promise<void> {
  const id = state.selected;
  if (!id) return;
  try {
    const view = await call<View>('GET', `conversations/${encodeURIComponent(id)}${query({ min_sequence: minSequence })}`);
    if (state.selected !== id) return;
    state.view = view;
    state.viewError = '';
    if (view.conversation) applyRow(view.conversation);
  } catch (error) {
    if (state.selected !== id) return;
    state.viewError = describe(error);
  }
  render();
}

/** After a change of one's own: the view and, if it cannot say, the list. */
async function changed(sequence: string): Promise<void> {
  await reload(sequence);
  if (state.viewError) await loadRows();
}

async function act(path: string, body: unknown, done: string): Promise<void> {
  const id = state.selected;
  if (!id) return;
  try {
    const written = await call<Written>('POST', `conversations/${encodeURIComponent(id)}/${path}`, body);
    notify(done);
    await changed(written.sequence);
  } catch (error) {
    notify(describe(error), 'error');
  }
}

export async function claim(): Promise<void> {
  const id = state.selected;
  if (!id) return;
  try {
    const claimed = await call<Written & { already_held: boolean; agent_id: string }>('POST', `conversations/${encodeURIComponent(id)}/claim`, {});
    refusal = '';
    // The claim's answer is the desk's word on who holds it, whatever the list still says.
    if (known?.conversation_id === id) known = { ...known, assignee: claimed.agent_id, status: 'assigned', sequence: claimed.sequence };
    notify(claimed.already_held ? t('claim.already') : t('claim.done'));
    await changed(claimed.sequence);
  } catch (error) {
    // Someone else has it (or it is closed): say so where the claim button was.
    refusal = error instanceof ApiFailure && error.status === 409 ? t('claim.refused', { detail: error.message }) : describe(error);
    render();
    await changed('');
  }
}

export function resolve(): Promise<void> {
  return act('status', { status: 'resolved' }, t('status.done.resolved'));
}

function actions(current: Conversation): HTMLElement {
  const mine = current.assignee !== '' && current.assignee === me()?.subject;
  const closed = current.status === 'resolved';
  const heldByOther = current.assignee !== '' && !mine;
  const button = (action: string, label: string, run: () => void): HTMLElement => h('button', { 'data-action': action, onclick: run }, label);
  return h(
    'div',
    { class: 'actions' },
    !mine && !heldByOther && !closed ? button('claim', t('action.claim'), () => void claim()) : null,
    mine && !closed ? button('release', t('action.release'), () => void act('unassign', {}, t('action.released'))) : null,
    !closed ? button('transfer', t('action.transfer'), () => toggleTransfer()) : null,
    !closed && current.status !== 'pending' ? button('pending', t('action.pending'), () => void act('status', { status: 'pending' }, t('status.done.pending'))) : null,
    current.status === 'pending' ? button('open', t('action.open'), () => void act('status', { status: 'open' }, t('status.done.open'))) : null,
    !closed ? button('resolve', t('action.resolve'), () => void resolve()) : null,
    closed ? button('reopen', t('action.reopen'), () => void act('status', { status: 'reopened' }, t('status.done.reopened'))) : null,
  );
}

/** The transfer form while it is open (kept across redraws, so nothing typed is lost). */
let transferring: HTMLElement | null = null;

function toggleTransfer(): void {
  const current = row();
  transferring = transferring || !current ? null : transferForm(current, (sequence) => {
    transferring = null;
    void changed(sequence);
  });
  render();
}

function header(current: Conversation): HTMLElement {
  return h(
    'header',
    { class: 'conversation-header', 'data-status': current.status, 'data-assignee': current.assignee },
    h('h2', {}, current.customer_id),
    h(
      'p',
      { class: 'meta' },
      h('span', { class: `badge status-${current.status}` }, named('status', current.status)),
      h('span', { class: `priority p-${current.priority}` }, named('priority', current.priority)),
      h('span', {}, named('channel', current.channel)),
      current.queue ? h('span', {}, t('conversation.queue', { queue: current.queue })) : null,
      current.language ? h('span', {}, current.language) : null,
      h('span', { class: 'assignee' }, current.assignee ? t('conversation.heldBy', { agent: current.assignee }) : t('conversation.unassigned')),
      current.sla_due_at ? h('span', { class: current.sla_breached ? 'sla breached' : 'sla' }, t('sla.due', { when: relative(current.sla_due_at) })) : null,
    ),
    actions(current),
    refusal ? h('p', { class: 'error refusal', role: 'alert', 'data-refusal': '' }, refusal) : null,
    transferring,
  );
}

function author(entry: Entry): string {
  if (entry.kind === 'event') return named('event', entry.event);
  if (entry.kind === 'bot') return t('entry.bot');
  if (entry.kind === 'note') return t('entry.note', { author: entry.author.replace(/^agent:/, '') });
  return entry.author.replace(/^(customer|agent):/, '') || named('entry', entry.kind);
}

function entryItem(entry: Entry): HTMLElement {
  const found = entry.classification;
  return h(
    'li',
    { class: `entry ${entry.kind}`, 'data-kind': entry.kind, 'data-id': entry.id },
    h('div', { class: 'entry-meta' }, h('strong', {}, author(entry)), ' ', h('time', { datetime: entry.at ?? '' }, when(entry.at)), entry.delivery ? h('span', { class: 'muted' }, ` · ${named('delivery', entry.delivery)}`) : null),
    h('p', { class: 'text' }, entry.text),
    found ? h('p', { class: 'classification muted' }, t('entry.classified', { intent: found.intent, sentiment: named('sentiment', found.sentiment), language: found.language })) : null,
  );
}

/** Draws the open conversation from what is known of it. */
export function render(): void {
  const place = document.querySelector<HTMLElement>('#conversation');
  const current = row();
  if (!place || !current) {
    if (place && state.viewError && state.selected) {
      delete place.dataset['drawn'];
      show(place, h('p', { class: 'error' }, state.viewError));
    }
    return;
  }
  const view = state.view;
  // The same conversation drawn again keeps the nodes shown, so a click on one of its buttons
  // lands even while changes stream in (a redraw mid-click would swallow it).
  const drawn = JSON.stringify([current, view, state.viewError, refusal, transferring !== null, me()?.subject, document.documentElement.lang]);
  if (place.dataset['drawn'] === drawn && place.firstElementChild) return;
  place.dataset['drawn'] = drawn;
  const reply = composer(current.conversation_id, view?.macros ?? [], current.language, (sequence) => void changed(sequence));
  // Redrawing moves the reply box; whoever is typing in it keeps typing.
  const typing = document.activeElement instanceof HTMLTextAreaElement && reply.contains(document.activeElement) ? document.activeElement : null;
  const [from, to] = [typing?.selectionStart ?? 0, typing?.selectionEnd ?? 0];
  show(
    place,
    header(current),
    h(
      'div',
      { class: 'conversation-body' },
      h(
        'div',
        { class: 'thread' },
        state.viewError ? h('p', { class: 'error' }, state.viewError) : null,
        view ? h('ol', { class: 'entries' }, view.entries.map(entryItem)) : h('p', { class: 'muted' }, current.preview),
        typingLine(),
        reply,
      ),
      h('aside', { class: 'panels' }, handoffPanel(view?.handoff ?? null), customerPanel(view?.customer ?? null), slaPanel(view?.sla_timers ?? []), suggestionsPanel(view?.suggestions ?? [], insert), routingPanel(view?.routing ?? null)),
    ),
  );
  typing?.focus();
  typing?.setSelectionRange(from, to);
  place.querySelector('.entries')?.lastElementChild?.scrollIntoView({ block: 'nearest' });
}
