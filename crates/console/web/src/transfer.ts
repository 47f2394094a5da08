// Handing a conversation on: to a queue (unassigned there) or to an agent, with a note for the
// next person; supervisors may also assign it to an agent outright. The SLA clocks keep running.

import { call, may } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { describe, notify, state } from './state.js';
import type { Conversation, Written } from './types.js';

export function transferForm(current: Conversation, done: (sequence: string) => void): HTMLElement {
  const queues = h('datalist', { id: 'queues' }, (state.overview?.queues ?? []).map((queue) => h('option', { value: queue.queue })));
  const agents = h('datalist', { id: 'agents' }, (state.overview?.agents ?? []).map((agent) => h('option', { value: agent.agent_id })));
  const queue = h('input', { name: 'queue', list: 'queues', value: current.queue });
  const agent = h('input', { name: 'agent_id', list: 'agents' });
  const note = h('textarea', { name: 'note', rows: 2 });
  const said = h('p', { class: 'error', role: 'alert' });
  const send = async (action: 'transfer' | 'assign', body: unknown, success: string): Promise<void> => {
    try {
      const written = await call<Written>('POST', `conversations/${encodeURIComponent(current.conversation_id)}/${action}`, body);
      notify(success);
      done(written.sequence);
    } catch (error) {
      said.textContent = describe(error);
    }
  };
  const submit = (event: Event): void => {
    event.preventDefault();
    const body = agent.value.trim() ? { agent_id: agent.value.trim(), note: note.value } : { queue: queue.value.trim(), note: note.value };
    void send('transfer', body, t('transfer.done'));
  };
  const assign = may('conversations.assign')
    ? h('button', { type: 'button', 'data-action': 'assign', onclick: () => void send('assign', { agent_id: agent.value.trim() }, t('transfer.assigned')) }, t('action.assign'))
    : null;
  return h(
    'form',
    { class: 'transfer', onsubmit: submit },
    queues,
    agents,
    h('label', {}, h('span', {}, t('transfer.queue')), queue),
    h('label', {}, h('span', {}, t('transfer.agent')), agent),
    h('label', {}, h('span', {}, t('transfer.note')), note),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('action.transfer')), assign),
    said,
  );
}
