// The side of a conversation: the hand-off packet, the customer card, SLA timers, the routing
// decision and suggested articles.

import { h, type Child } from './dom.js';
import { percent, relative, when } from './format.js';
import { named, t } from './i18n.js';
import type { Customer, Entity, Handoff, Routing, SlaTimer, Suggestion } from './types.js';

function panel(name: string, title: string, ...body: (Child | Child[])[]): HTMLElement {
  return h('section', { class: `panel ${name}`, 'data-panel': name }, h('h3', {}, title), ...body);
}

/** Label and value pairs, skipping empty values. */
function facts(pairs: [string, Child][]): HTMLElement {
  const shown = pairs.filter(([, value]) => value !== '' && value !== null && value !== undefined);
  return h('dl', {}, shown.map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]).flat());
}

function entities(found: Entity[]): Child {
  if (!found.length) return null;
  return h('ul', { class: 'chips' }, found.map((entity) => h('li', { title: entity.kind }, `${entity.kind}: ${entity.value || entity.text}`)));
}

/** Sentiment per customer message, oldest first, as signed numbers. */
function trend(scores: number[]): string {
  return scores.map((score) => (score > 0 ? '+' : '') + score.toFixed(1)).join(' → ');
}

export function handoffPanel(packet: Handoff | null): HTMLElement | null {
  if (!packet) return null;
  return panel(
    'handoff',
    t('panel.handoff'),
    facts([
      [t('handoff.reason'), named('reason', packet.reason)],
      [t('handoff.intent'), packet.intent],
      [t('handoff.summary'), packet.summary],
      [t('handoff.sentiment'), trend(packet.sentiment_trend)],
      [t('handoff.messages'), packet.customer_messages],
    ]),
    entities(packet.entities),
    packet.bot_attempts.length ? h('h4', {}, t('handoff.tried')) : null,
    packet.bot_attempts.length ? h('ol', {}, packet.bot_attempts.map((attempt) => h('li', {}, attempt))) : null,
    packet.article_ids.length ? h('p', { class: 'muted' }, t('handoff.articles', { ids: packet.article_ids.join(', ') })) : null,
  );
}

export function customerPanel(card: Customer | null): HTMLElement | null {
  if (!card) return null;
  const attributes = Object.entries(card.attributes).map(([name, value]): [string, Child] => [name, value]);
  return panel(
    'customer',
    t('panel.customer'),
    facts([
      [t('customer.name'), card.name],
      [t('customer.id'), card.customer_id],
      [t('customer.email'), card.email],
      [t('customer.tier'), card.tier],
      [t('customer.plan'), card.plan],
      [t('customer.country'), card.country],
      [t('customer.verified'), card.verified ? t('customer.yes') : t('customer.no')],
      ...attributes,
    ]),
    card.orders.length ? h('h4', {}, t('customer.orders')) : null,
    card.orders.length
      ? h('ul', { class: 'orders' }, card.orders.map((order) => h('li', {}, `#${order.order_id} · ${order.status}`, order.tracking_number ? ` · ${order.carrier} ${order.tracking_number}` : '')))
      : null,
    card.earlier.length ? h('h4', {}, t('customer.earlier')) : null,
    card.earlier.length
      ? h('ul', { class: 'earlier' }, card.earlier.map((old) => h('li', {}, `${when(old.created_at)} · ${named('status', old.status)}${old.handled_by ? ` · ${named('handledBy', old.handled_by)}` : ''} · ${old.preview}`)))
      : null,
  );
}

function timerState(timer: SlaTimer): string {
  if (timer.met) return t('sla.met');
  if (timer.breached) return t('sla.breached');
  if (timer.paused) return t('sla.paused');
  return t('sla.due', { when: relative(timer.due_at) });
}

export function slaPanel(timers: SlaTimer[]): HTMLElement | null {
  if (!timers.length) return null;
  return panel(
    'sla',
    t('panel.sla'),
    h('ul', {}, timers.map((timer) => h('li', { class: timer.breached ? 'breached' : '' }, h('strong', {}, named('metric', timer.metric)), ' ', timerState(timer)))),
  );
}

export function routingPanel(decision: Routing | null): HTMLElement | null {
  if (!decision) return null;
  return panel(
    'routing',
    t('panel.routing'),
    facts([
      [t('routing.rule'), decision.rule],
      [t('routing.action'), named('routeAction', decision.action)],
      [t('routing.reason'), decision.reason],
      [t('routing.tags'), decision.tags.join(', ')],
      [t('routing.skills'), decision.skills.join(', ')],
    ]),
  );
}

/** Suggested articles; one click inserts the link or the passage into the reply. */
export function suggestionsPanel(found: Suggestion[], insert: (text: string, articleId: string) => void): HTMLElement | null {
  if (!found.length) return null;
  const item = (article: Suggestion): HTMLElement =>
    h(
      'li',
      { 'data-article': article.article_id },
      h('strong', {}, article.title), ' ', h('span', { class: 'muted' }, percent(article.score)),
      h('p', {}, article.passage),
      h('button', { class: 'small', 'data-insert': 'link', onclick: () => insert(article.url, article.article_id) }, t('suggestion.insertLink')),
      h('button', { class: 'small', 'data-insert': 'passage', onclick: () => insert(article.passage, article.article_id) }, t('suggestion.insertPassage')),
    );
  return panel('suggestions', t('panel.suggestions'), h('ul', {}, found.map(item)));
}
