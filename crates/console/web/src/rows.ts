// Which conversations an inbox view shows and in what order: the desk's own order (SLA due
// time, none last; then priority, highest first; then age, oldest first), kept when changes
// arrive live.

import type { InboxView } from './route.js';
import type { Conversation } from './types.js';

const PRIORITY_RANK: Record<string, number> = { urgent: 4, high: 3, normal: 2, low: 1 };

export function compare(a: Conversation, b: Conversation): number {
  const due = (row: Conversation): number => (row.sla_due_at ? Date.parse(row.sla_due_at) : Infinity);
  const rank = (row: Conversation): number => PRIORITY_RANK[row.priority] ?? 0;
  const created = (row: Conversation): number => (row.created_at ? Date.parse(row.created_at) : 0);
  return (
    due(a) - due(b) ||
    rank(b) - rank(a) ||
    created(a) - created(b) ||
    a.conversation_id.localeCompare(b.conversation_id)
  );
}

/** Whether `row` belongs in `view` for agent `me`: a chosen status shows that status only;
 * else a view shows the open work (unassigned: what waits for a person). */
export function belongs(row: Conversation, view: InboxView, me: string, status: string): boolean {
  const open = status ? row.status === status : row.status !== 'resolved';
  if (view === 'mine') return open && row.assignee === me;
  if (view === 'unassigned') {
    const waiting = status ? open : row.status === 'queued' || row.status === 'escalated';
    return waiting && !row.assignee;
  }
  if (view.startsWith('queue:')) return open && row.queue === view.slice('queue:'.length);
  return open;
}

/** What `ListConversations` is asked for a view. */
export function filters(view: InboxView, status: string): Record<string, string> {
  const asked: Record<string, string> = status ? { status } : {};
  if (view === 'mine') asked['assignee'] = 'me';
  else if (view === 'unassigned') asked['assignee'] = 'unassigned';
  else if (view.startsWith('queue:')) asked['queue'] = view.slice('queue:'.length);
  return asked;
}

/** `rows` with `changed` in its place (or gone when it no longer belongs), in order. Only a
 * newer state of a row replaces an older one. */
export function upsert(rows: Conversation[], changed: Conversation, keep: boolean): Conversation[] {
  const old = rows.find((row) => row.conversation_id === changed.conversation_id);
  if (old && BigInt(old.sequence) > BigInt(changed.sequence)) return rows;
  const others = rows.filter((row) => row.conversation_id !== changed.conversation_id);
  return keep ? [...others, changed].sort(compare) : others;
}
