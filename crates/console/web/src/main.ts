// The console: sign in, then the inbox, the supervisor's view or the dashboard, kept live by the
// desk's changes (or, where the server cannot stream them, by polling).

import { call, forgetSession, may, me, onSignedOut, session } from './api.js';
import { renderArticle } from './articles.js';
import { openConversation, reload, render as renderConversation } from './conversation.js';
import { find, h, show } from './dom.js';
import { initLocale, named, switchLocale, t } from './i18n.js';
import { applyRow, inboxShown, inboxView, loadOverview, loadRows, onRowsLoaded, renderInbox } from './inbox.js';
import { listen } from './keys.js';
import { watch, type LiveState, type Watch } from './live.js';
import { current, go, type Route } from './route.js';
import { signIn } from './signin.js';
import { describe, notify, state } from './state.js';
import { renderMacros } from './macros.js';
import { renderSupervisor } from './supervisor.js';
import { stopTyping } from './typing.js';
import type { Agent, Change } from './types.js';

const POLL_MS = 15000;

let live: Watch | null = null;
let polling: number | undefined;
let overviewSoon: number | undefined;

function app(): HTMLElement {
  return find(document, '#app');
}

function presenceSelect(): HTMLElement {
  const mine = state.overview?.agents.find((agent) => agent.agent_id === me()?.subject)?.presence;
  const options = ['online', 'away', 'offline'];
  const select = h('select', { name: 'presence', 'aria-label': t('presence.label') }, h('option', { value: '', disabled: true, selected: !mine || !options.includes(mine) }, t('presence.label')), options.map((presence) => h('option', { value: presence, selected: presence === mine }, named('presence', presence))));
  select.addEventListener('change', async () => {
    try {
      await call<Agent>('PUT', 'presence', { presence: select.value });
      notify(t('presence.set', { presence: named('presence', select.value) }));
    } catch (error) {
      notify(describe(error), 'error');
    }
  });
  return select;
}

function topBar(): HTMLElement {
  const identity = me();
  const screen = current().screen;
  const tab = (href: string, label: string, selected: boolean): HTMLElement => h('a', { href, class: selected ? 'tab selected' : 'tab', 'aria-current': selected ? 'page' : undefined }, label);
  return h(
    'header',
    { class: 'top' },
    h('strong', { class: 'brand' }, t('app.name')),
    h('nav', {}, tab(`#/inbox/${encodeURIComponent(inboxView())}`, t('nav.inbox'), screen === 'inbox'), may('conversations.assign') ? tab('#/supervisor', t('nav.supervisor'), screen === 'supervisor') : null, may('analytics.read') ? tab('#/dashboard', t('nav.dashboard'), screen === 'dashboard') : null, may('macros.manage') ? tab('#/macros', t('nav.macros'), screen === 'macros') : null),
    h('span', { class: `live ${state.live}`, 'data-live': state.live, title: t(`live.${state.live}`) }, t(`live.${state.live}`)),
    presenceSelect(),
    h('button', { class: 'link', 'data-action': 'language', onclick: () => { switchLocale(); route(true); } }, t('app.otherLanguage')),
    h('span', { class: 'who' }, identity ? `${identity.subject} · ${named('role', identity.role)} · ${identity.tenant}` : ''),
    h('button', { class: 'link', 'data-action': 'sign-out', onclick: () => signOut() }, t('app.signOut')),
  );
}

/** The dashboard and its chart library load when it is first shown: the rest of the console
 * neither waits for them nor depends on them. */
async function renderDashboard(screen: HTMLElement): Promise<void> {
  try {
    const dashboard = await import('./dashboard.js');
    const where = current(); // where the console is once loaded
    if (where.screen === 'dashboard') dashboard.renderDashboard(screen, where.query);
  } catch (error) {
    show(screen, h('p', { class: 'error' }, t('dashboard.unavailable', { detail: String(error) })));
  }
}

/** Draws a screen other than the inbox. */
function renderOther(where: Exclude<Route, { screen: 'inbox' }>, screen: HTMLElement): void {
  if (where.screen === 'supervisor') void renderSupervisor(screen);
  else if (where.screen === 'macros') void renderMacros(screen);
  else if (where.screen === 'dashboard') void renderDashboard(screen);
  else renderArticle(screen, where.draft);
}

/** Draws the screen the URL names; `redraw` rebuilds it even when it is already shown. */
function route(redraw = false): void {
  const where = current();
  const root = app();
  if (!root.querySelector('header.top') || redraw) show(root, h('div', { id: 'notices' }), topBar(), h('main', { id: 'screen' }));
  else root.querySelector('header.top')?.replaceWith(topBar());
  const screen = find(root, '#screen');
  if (where.screen !== 'inbox') {
    state.selected = null;
    stopTyping();
    renderOther(where, screen);
    return;
  }
  if (redraw || !inboxShown() || where.view !== inboxView()) renderInbox(screen, where.view);
  if (where.conversation) void openConversation(where.conversation);
  else {
    state.selected = null;
    stopTyping();
  }
}

/** A change from the desk: the lists move, the counts follow, the open conversation reloads. */
function changed(change: Change): void {
  if (change.conversation) applyRow(change.conversation);
  if (change.conversation?.conversation_id === state.selected) void reload(change.sequence);
  if (change.kind === 'assigned_to_me') notify(t('live.assigned', { customer: change.conversation?.customer_id ?? '' }));
  if (change.kind === 'sla_breached') notify(t('live.breached', { customer: change.conversation?.customer_id ?? '' }), 'error');
  clearTimeout(overviewSoon);
  overviewSoon = window.setTimeout(() => void loadOverview(), 500);
}

function liveState(now: LiveState): void {
  // Whatever changed before the stream (re)connected from now is read once more.
  if (now === 'live' && state.live !== 'live') poll();
  state.live = now;
  const badge = document.querySelector<HTMLElement>('header.top .live');
  if (badge) {
    badge.className = `live ${now}`;
    badge.dataset['live'] = now;
    badge.textContent = t(`live.${now}`);
  }
  clearInterval(polling);
  if (now === 'unavailable') polling = window.setInterval(poll, POLL_MS);
}

/** Without live changes: read again what is shown. */
function poll(): void {
  const screen = current().screen;
  if (screen === 'supervisor') return void renderSupervisor(find(app(), '#screen'));
  if (screen === 'macros' || screen === 'article') return; // an edit in progress is not redrawn
  if (screen === 'dashboard') return; // it reads the report when shown or filtered
  void loadRows();
  void loadOverview();
  if (state.selected) void reload();
}

function start(): void {
  live?.stop();
  live = watch(changed, liveState);
  route(true);
}

function signOut(why = ''): void {
  live?.stop();
  clearInterval(polling);
  // Signing out on purpose is going offline (the conversations held go back to their queues
  // after the desk's grace period); an expired session cannot say so.
  if (!why) void call('PUT', 'presence', { presence: 'offline' }).catch(() => undefined);
  stopTyping();
  forgetSession();
  location.hash = '';
  signIn(app(), start, why);
}

function boot(): void {
  initLocale();
  listen();
  onRowsLoaded(renderConversation);
  onSignedOut(() => signOut(t('signIn.expired')));
  window.addEventListener('hashchange', () => session() && route());
  if (!session()) return signIn(app(), start);
  if (!location.hash) go({ screen: 'inbox', view: 'mine', conversation: null });
  start();
}

boot();
