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

/** A count per key (a channel, a language, an hour of day `00`..`23` UTC, ...), most first. The
 * report may give it as a list or as an object of counts by key. */
export interface Share {
  key: string;
  count: number;
}

export type Shares = Share[] | Record<string, number>;

/** One bucket of the report's series (hour, day or week, UTC); rates 0..1 and seconds or null. */
export interface Point {
  start: string;
  conversations: number;
  escalated: number;
  closed: number;
  contained: number;
  containment_pending: number;
  containment_rate?: number | null;
  escalation_rate?: number | null;
  csat?: number | null;
  nps?: number | null;
  sla_met?: number;
  sla_breached?: number;
  sla_attainment?: number | null;
  first_response_seconds_p50?: number | null;
  resolution_seconds_p50?: number | null;
}

export interface SlaFigure {
  queue: string;
  metric: 'first_response' | 'resolution';
  met: number;
  breached: number;
}

export interface SatisfactionFigure {
  dimension: 'agent' | 'queue' | 'intent';
  key: string;
  answers: number;
  csat: number | null;
}

export interface AgentFigure {
  agent: string;
  closed: number;
  handle_seconds_p50: number | null;
}

/** The support lead's report (docs/ANALYTICS.md): rates are fractions 0..1, times seconds, NPS
 * -100..100; each null when there is nothing to measure. */
export interface Report {
  from: string;
  to: string;
  conversations: number;
  escalated: number;
  escalation_rate: number | null;
  closed: number;
  contained: number;
  containment_pending: number;
  containment_rate: number | null;
  reopened: number;
  reopen_rate: number | null;
  first_contact_resolution_rate: number | null;
  first_response_seconds_p50: number | null;
  first_response_seconds_p90: number | null;
  first_response_business_seconds_p50: number | null;
  first_response_business_seconds_p90: number | null;
  resolution_seconds_p50: number | null;
  resolution_seconds_p90: number | null;
  resolution_business_seconds_p50: number | null;
  resolution_business_seconds_p90: number | null;
  handle_seconds_p50: number | null;
  handle_seconds_p90: number | null;
  sla_met: number;
  sla_breached: number;
  sla_attainment: number | null;
  csat_bot: number | null;
  csat_human: number | null;
  csat: number | null;
  csat_answers: number;
  nps: number | null;
  nps_answers: number;
  surveys_sent: number;
  survey_response_rate: number | null;
  handoff_reasons: Shares;
  channels: Shares;
  languages: Shares;
  intents: Shares;
  queues: Shares;
  hours: Shares;
  sla: SlaFigure[];
  satisfaction: SatisfactionFigure[];
  agent_figures: AgentFigure[];
  series: Point[];
}

/** An intent's conversations in the window against the same hours of past weeks. */
export interface Trend {
  intent: string;
  count: number;
  baseline: number[];
  baseline_median: number;
  /** count / baseline_median; null when the median is 0. */
  ratio: number | null;
  score: number;
  spike: boolean;
}

export interface Trends {
  from: string;
  to: string;
  /** Spikes first, then the highest scores. */
  trends: Trend[];
}

/** Questions that went unanswered, grouped by their wording. */
export interface Gap {
  wording: string;
  count: number;
  /** Up to five, most recent first. */
  examples: string[];
  locales: string[];
  /** Where they were asked: search, deflect, answer, assist, fallback, handoff. */
  kinds: string[];
  last_asked: string | null;
}

export interface Gaps {
  gaps: Gap[];
}

export interface ArticleDeflection {
  article_id: string;
  title: string;
  searches: number;
  /** Searches not followed by a conversation within 24 hours. */
  deflected: number;
  /** Searches less than 24 hours old, counted neither way yet. */
  pending: number;
  deflection_rate: number | null;
}

export interface Deflections {
  articles: ArticleDeflection[];
}

/** What `POST articles` takes. */
export interface NewArticle {
  title: string;
  body: string;
  locale: string;
  example_questions: string[];
  publish: boolean;
}

export interface WrittenArticle {
  article_id: string;
  version: number;
  status: string;
}
