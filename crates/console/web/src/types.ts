// The console API's JSON (crates/console/src/json): enums are lower-case names, times RFC 3339
// strings or null, stream sequences strings.

export type Status = 'open' | 'queued' | 'escalated' | 'assigned' | 'pending' | 'resolved' | 'unspecified';

export interface Identity {
  tenant: string;
  subject: string;
  role: string;
  expires_at: string | null;
  rights: string[];
}

export interface Session {
  token: string;
  identity: Identity;
}

export interface Conversation {
  conversation_id: string;
  customer_id: string;
  channel: string;
  status: Status;
  queue: string;
  priority: string;
  assignee: string;
  preview: string;
  sla_due_at: string | null;
  sla_breached: boolean;
  handoff_reason: string;
  language: string;
  created_at: string | null;
  updated_at: string | null;
  sequence: string;
}

export interface Page {
  conversations: Conversation[];
  next_cursor: string;
}

export interface Entity {
  kind: string;
  text: string;
  value: string;
}

export interface Classification {
  intent: string;
  confidence: number;
  language: string;
  sentiment: string;
  sentiment_score: number;
  urgency: string;
  entities: Entity[];
}

export interface Entry {
  kind: 'customer' | 'bot' | 'agent' | 'note' | 'event' | 'unspecified';
  id: string;
  author: string;
  text: string;
  at: string | null;
  classification: Classification | null;
  article_ids: string[];
  delivery: string;
  /** Events: what happened (`routed`, `claimed`, `resolved`, ...); `text` holds its particulars. */
  event: string;
}

export interface Routing {
  rule: string;
  action: string;
  queue: string;
  priority: string;
  reason: string;
  tags: string[];
  skills: string[];
}

export interface Handoff {
  reason: string;
  summary: string;
  intent: string;
  entities: Entity[];
  sentiment_trend: number[];
  bot_attempts: string[];
  article_ids: string[];
  customer_messages: number;
}

export interface Order {
  order_id: string;
  status: string;
  carrier: string;
  tracking_number: string;
  updated_at: string | null;
}

export interface Earlier {
  conversation_id: string;
  created_at: string | null;
  status: Status;
  handled_by: string;
  close_reason: string;
  preview: string;
}

export interface Customer {
  customer_id: string;
  name: string;
  email: string;
  tier: string;
  plan: string;
  country: string;
  attributes: Record<string, string>;
  verified: boolean;
  orders: Order[];
  earlier: Earlier[];
}

export interface SlaTimer {
  metric: string;
  policy: string;
  due_at: string | null;
  paused: boolean;
  breached: boolean;
  met: boolean;
}

export interface Suggestion {
  article_id: string;
  title: string;
  passage: string;
  url: string;
  score: number;
}

export interface MacroActions {
  /** `unspecified`: leaves the status as it is. */
  status: string;
  add_tags: string[];
  queue: string;
  /** `unspecified`: leaves the priority as it is. */
  priority: string;
}

export interface Macro {
  macro_id: string;
  name: string;
  texts: Record<string, string>;
  default_locale: string;
  actions: MacroActions;
  version: number;
  updated_at: string | null;
  updated_by: string;
}

export interface View {
  conversation: Conversation | null;
  entries: Entry[];
  routing: Routing | null;
  handoff: Handoff | null;
  customer: Customer | null;
  sla_timers: SlaTimer[];
  suggestions: Suggestion[];
  macros: Macro[];
  tags: string[];
}

export interface Change {
  kind: 'new' | 'assigned_to_me' | 'customer_replied' | 'sla_warning' | 'sla_breached' | 'updated' | 'unspecified';
  conversation: Conversation | null;
  sequence: string;
}

export interface QueueSummary {
  queue: string;
  waiting: number;
  oldest_waiting_since: string | null;
  sla_at_risk: number;
  sla_breached: number;
}

export interface Agent {
  agent_id: string;
  presence: 'online' | 'away' | 'offline' | 'unspecified';
  load: number;
  capacity: number;
  queues: string[];
  presence_since: string | null;
}

export interface Overview {
  queues: QueueSummary[];
  agents: Agent[];
  pending_approvals: number;
  mine: number;
  unassigned: number;
  all: number;
}

export interface Approval {
  approval_id: string;
  kind: string;
  conversation_id: string;
  customer_id: string;
  facts: Record<string, string>;
  requested_at: string | null;
}

/** What a change answers with: its stream sequence, to read one's own write. */
export interface Written {
  sequence: string;
}
