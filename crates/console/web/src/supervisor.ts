// The supervisor's view: queues (waiting, the oldest wait, SLA at risk and breached), agents
// (presence and load), conversations whose SLA is at risk, approvals waiting on a person, and a
// link to the dashboard.

import { call, may, query } from './api.js';
import { h, show } from './dom.js';
import { relative } from './format.js';
import { named, t } from './i18n.js';
import { go } from './route.js';
import { section, table } from './sections.js';
import { describe, notify } from './state.js';
import type { Agent, Approval, Conversation, Overview, Page, QueueSummary } from './types.js';

const AT_RISK_MINUTES = 30;

function queues(found: QueueSummary[]): HTMLElement {
  const rows = found.map((queue) => [h('a', { href: `#/inbox/queue:${encodeURIComponent(queue.queue)}` }, queue.queue), queue.waiting, relative(queue.oldest_waiting_since), queue.sla_at_risk, queue.sla_breached]);
  return table([t('supervisor.queue'), t('supervisor.waiting'), t('supervisor.oldest'), t('supervisor.atRisk'), t('supervisor.breached')], rows);
}

function agents(found: Agent[]): HTMLElement {
  const rows = found.map((agent) => [agent.agent_id, h('span', { class: `presence ${agent.presence}` }, named('presence', agent.presence)), `${agent.load} / ${agent.capacity}`, agent.queues.join(', ')]);
  return table([t('supervisor.agent'), t('supervisor.presence'), t('supervisor.load'), t('supervisor.queues')], rows);
}

function atRisk(found: Conversation[]): HTMLElement {
  const open = (row: Conversation) => () => go({ screen: 'inbox', view: 'all', conversation: row.conversation_id });
  const rows = found.map((row) => [h('a', { href: '#', onclick: (event: Event) => { event.preventDefault(); open(row)(); } }, row.customer_id), row.queue, row.assignee || t('conversation.unassigned'), row.sla_breached ? t('sla.breached') : t('sla.due', { when: relative(row.sla_due_at) })]);
  return table([t('supervisor.customer'), t('supervisor.queue'), t('supervisor.assignee'), t('supervisor.sla')], rows);
}

/** Approvals decided here: the list may not know yet (it is read from the desk's read model). */
const decided = new Set<string>();

async function decide(approval: Approval, approve: boolean, reason: string, root: HTMLElement): Promise<void> {
  try {
    await call('POST', `approvals/${encodeURIComponent(approval.approval_id)}`, { approve, reason });
    decided.add(approval.approval_id);
    notify(approve ? t('approval.approved') : t('approval.rejected'));
    await renderSupervisor(root);
  } catch (error) {
    notify(describe(error), 'error');
  }
}

function approvals(found: Approval[], root: HTMLElement): HTMLElement {
  const item = (approval: Approval): HTMLElement => {
    const reason = h('input', { name: 'reason', placeholder: t('approval.reason') });
    return h(
      'li',
      { 'data-approval': approval.approval_id },
      h('strong', {}, `${named('approvalKind', approval.kind)} · ${approval.customer_id}`), ' ', h('span', { class: 'muted' }, relative(approval.requested_at)),
      h('dl', {}, Object.entries(approval.facts).map(([name, value]) => [h('dt', {}, name), h('dd', {}, value)]).flat()),
      h('button', { class: 'primary', onclick: () => void decide(approval, true, '', root) }, t('approval.approve')),
      reason,
      h('button', { onclick: () => void decide(approval, false, reason.value, root) }, t('approval.reject')),
    );
  };
  const waiting = found.filter((approval) => !decided.has(approval.approval_id));
  return waiting.length ? h('ul', { class: 'approvals' }, waiting.map(item)) : h('p', { class: 'muted' }, t('approval.none'));
}

export async function renderSupervisor(root: HTMLElement): Promise<void> {
  const overview = call<Overview>('GET', `overview${query({ sla_at_risk_minutes: AT_RISK_MINUTES })}`);
  const risky = () => call<Page>('GET', `conversations${query({ sla_at_risk_minutes: AT_RISK_MINUTES, page_size: 50 })}`);
  const parts = await Promise.all([
    section(t('supervisor.queues'), () => overview, (found) => queues(found.queues)),
    section(t('supervisor.agents'), () => overview, (found) => agents(found.agents)),
    section(t('supervisor.slaAtRisk', { minutes: AT_RISK_MINUTES }), risky, (page) => atRisk(page.conversations.filter((row) => row.status !== 'resolved'))),
    may('returns.decide') ? section(t('supervisor.approvals'), () => call<{ approvals: Approval[] }>('GET', 'approvals'), (found) => approvals(found.approvals, root)) : null,
  ]);
  const dashboard = may('analytics.read') ? h('a', { class: 'heading-link', href: '#/dashboard', 'data-action': 'dashboard' }, t('supervisor.dashboard')) : null;
  show(root, h('div', { class: 'supervisor' }, h('h2', {}, t('supervisor.title'), dashboard), parts));
}
