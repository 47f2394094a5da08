// The supervisor's dashboard (`analytics.read`), made to be read from across the room: a period
// and filters kept in the URL's fragment, headline figures, charts over time, rankings, intent
// trends with their spikes, the questions nothing answered, and what each article deflects. Each
// part loads on its own and says why when it cannot.

import { call, query as search } from './api.js';
import { RANGES, period, quick, shares, typedDay, withPeriod, type Range } from './analytics.js';
import { charts } from './dashboard_charts.js';
import { agents, deflections, gaps, ranking, reasons, satisfaction, slas, trends } from './dashboard_parts.js';
import { h, show, type Attrs } from './dom.js';
import { count, duration, rate } from './format.js';
import { named, t, type Key } from './i18n.js';
import { href, type Bucket, type DashboardQuery } from './route.js';
import { later } from './sections.js';
import type { Deflections, Gaps, Report, Trends } from './types.js';

const BUCKETS: Bucket[] = ['hour', 'day', 'week'];
const FILTERS = ['channel', 'queue', 'intent', 'language', 'agent'] as const;
type Filter = (typeof FILTERS)[number];
const TREND_HOURS = 24;
const TREND_WEEKS = 4;

interface Tile {
  figure: keyof Report;
  label: Key;
  value: (report: Report) => string;
  under?: (report: Report) => string;
}

const TILES: Tile[] = [
  { figure: 'conversations', label: 'figure.conversations', value: (r) => count(r.conversations), under: (r) => t('figure.escalated', { n: count(r.escalated) }) },
  { figure: 'containment_rate', label: 'figure.containment', value: (r) => rate(r.containment_rate), under: (r) => t('figure.pending', { n: count(r.containment_pending), upTo: rate(r.closed ? (r.contained + r.containment_pending) / r.closed : null) }) },
  { figure: 'escalation_rate', label: 'figure.escalation', value: (r) => rate(r.escalation_rate) },
  { figure: 'first_response_seconds_p50', label: 'figure.firstResponse', value: (r) => duration(r.first_response_seconds_p50), under: (r) => t('figure.businessHours', { time: duration(r.first_response_business_seconds_p50) }) },
  { figure: 'resolution_seconds_p50', label: 'figure.resolution', value: (r) => duration(r.resolution_seconds_p50), under: (r) => t('figure.businessHours', { time: duration(r.resolution_business_seconds_p50) }) },
  { figure: 'sla_attainment', label: 'figure.sla', value: (r) => rate(r.sla_attainment), under: (r) => t('figure.slaEnded', { met: count(r.sla_met), breached: count(r.sla_breached) }) },
  { figure: 'csat_bot', label: 'figure.csatBot', value: (r) => rate(r.csat_bot), under: (r) => t('figure.csatAll', { rate: rate(r.csat) }) },
  { figure: 'csat_human', label: 'figure.csatHuman', value: (r) => rate(r.csat_human), under: (r) => t('figure.csatAnswers', { n: count(r.csat_answers) }) },
  { figure: 'nps', label: 'figure.nps', value: (r) => (r.nps === null ? '—' : String(Math.round(r.nps))), under: (r) => t('figure.answers', { n: count(r.nps_answers) }) },
  { figure: 'survey_response_rate', label: 'figure.surveys', value: (r) => rate(r.survey_response_rate), under: (r) => t('figure.sent', { n: count(r.surveys_sent) }) },
];

/** Every filter value seen in a report this session, so that narrowing to one keeps the others
 * on offer. */
const seen: Record<Filter, Set<string>> = { channel: new Set(), queue: new Set(), intent: new Set(), language: new Set(), agent: new Set() };

function tiles(report: Report, shown: string): HTMLElement {
  const tile = (figure: Tile): HTMLElement =>
    h('div', { class: 'tile', 'data-figure': figure.figure }, h('span', { class: 'label' }, t(figure.label)), h('strong', { class: 'value' }, figure.value(report)), figure.under ? h('span', { class: 'under' }, figure.under(report)) : null);
  return h('div', { class: 'tiles', 'data-report': shown }, TILES.map(tile));
}

function choices(report: Report, filter: Filter): string[] {
  if (filter === 'agent') return report.agent_figures.map((figure) => figure.agent);
  const lists = { channel: report.channels, queue: report.queues, intent: report.intents, language: report.languages };
  return shares(lists[filter]).map((share) => share.key);
}

function label(filter: Filter, value: string): string {
  return filter === 'channel' ? named('channel', value) : value;
}

/** A filter's choices: all, what the reports had, and the one chosen (even before they come). */
function fill(select: HTMLSelectElement, filter: Filter, chosen: string): void {
  const values = [...new Set([...seen[filter], chosen])].filter(Boolean).sort((a, b) => label(filter, a).localeCompare(label(filter, b)));
  const options = values.map((value) => h('option', { value, selected: value === chosen }, label(filter, value)));
  select.replaceChildren(h('option', { value: '', selected: !chosen }, t('dashboard.all')), ...options);
}

function field(text: string, input: HTMLElement): HTMLElement {
  return h('label', {}, h('span', {}, text), input);
}

/** The period, the bucket and the filters; applying one changes the fragment. */
function form(query: DashboardQuery, report: Promise<Report>, apply: (next: DashboardQuery) => void): HTMLElement {
  let fromHour = query.from;
  const from = h('input', { type: 'date', name: 'from', value: query.from.slice(0, 10) });
  const to = h('input', { type: 'date', name: 'to', value: query.to });
  const bucket = h('select', { name: 'bucket' }, BUCKETS.map((value) => h('option', { value, selected: value === query.bucket }, t(`bucket.${value}`))));
  const selects = Object.fromEntries(FILTERS.map((filter) => [filter, h('select', { name: filter })])) as Record<Filter, HTMLSelectElement>;
  FILTERS.forEach((filter) => fill(selects[filter], filter, query[filter]));
  report.then((found) => {
    FILTERS.forEach((filter) => choices(found, filter).forEach((value) => seen[filter].add(value)));
    FILTERS.forEach((filter) => fill(selects[filter], filter, selects[filter].value)); // a choice made meanwhile stays
  }, () => undefined);
  const read = (): DashboardQuery => {
    const next = { from: typedDay(from.value, fromHour), to: to.value, bucket: BUCKETS.find((value) => value === bucket.value) ?? 'day' };
    return { ...next, ...(Object.fromEntries(FILTERS.map((filter) => [filter, selects[filter].value])) as Record<Filter, string>) };
  };
  const pick = (range: Range): void => {
    const chosen = quick(range, Date.now());
    [fromHour, from.value, to.value, bucket.value] = [chosen.from, chosen.from.slice(0, 10), chosen.to, chosen.bucket];
    apply(read());
  };
  const quicks = h('div', { class: 'quick', role: 'group', 'aria-label': t('dashboard.range') }, RANGES.map((range) => h('button', { type: 'button', class: 'small', 'data-range': range, onclick: () => pick(range) }, t(`range.${range}`))));
  const labels: Record<Filter, Key> = { channel: 'dashboard.channel', queue: 'supervisor.queue', intent: 'dashboard.intent', language: 'dashboard.language', agent: 'supervisor.agent' };
  return h(
    'form',
    { class: 'filters', onsubmit: (event: Event) => { event.preventDefault(); apply(read()); } },
    field(t('dashboard.from'), from),
    field(t('dashboard.to'), to),
    quicks,
    field(t('dashboard.bucket'), bucket),
    FILTERS.map((filter) => field(t(labels[filter]), selects[filter])),
    h('button', { type: 'submit', class: 'primary', 'data-action': 'apply' }, t('dashboard.apply')),
    h('span', { class: 'muted' }, t('dashboard.utc')),
  );
}

/** Shows the dashboard for `query` (its period defaulting to the last 7 days). */
export function renderDashboard(root: HTMLElement, query: DashboardQuery): void {
  const now = Date.now();
  const filled = withPeriod(query, now);
  const within = period(query, now);
  const shown = href({ screen: 'dashboard', query });
  const filters = Object.fromEntries(FILTERS.map((filter) => [filter, query[filter]]));
  const report = call<Report>('GET', `report${search({ ...within, bucket: query.bucket, ...filters })}`);
  const apply = (next: DashboardQuery): void => {
    const target = href({ screen: 'dashboard', query: next });
    if (location.hash === target) renderDashboard(root, next);
    else location.hash = target;
  };
  const fromReport = (title: string, draw: (found: Report) => HTMLElement, attrs: Attrs = {}): HTMLElement => later(title, () => report, draw, attrs);
  show(
    root,
    h(
      'div',
      { class: 'dashboard', 'data-query': shown },
      h('header', { class: 'dashboard-head' }, h('h2', {}, t('dashboard.title')), form(filled, report, apply)),
      fromReport(t('dashboard.period', { from: filled.from.replace('T', ' '), to: filled.to }), (found) => tiles(found, shown), { class: 'wide', 'data-section': 'figures' }),
      fromReport(t('dashboard.overTime'), (found) => charts(found, query.bucket), { class: 'wide', 'data-section': 'charts' }),
      later(t('dashboard.trends', { hours: TREND_HOURS, weeks: TREND_WEEKS }), () => call<Trends>('GET', `trends${search({ window_hours: TREND_HOURS, weeks: TREND_WEEKS })}`), trends, { class: 'half', 'data-section': 'trends' }),
      later(t('dashboard.gaps'), () => call<Gaps>('GET', `gaps${search({ since: within.from, limit: 20 })}`), gaps, { class: 'half', 'data-section': 'gaps' }),
      fromReport(t('dashboard.reasons'), reasons),
      fromReport(t('dashboard.byChannel'), (found) => ranking(found.channels, t('dashboard.channel'), (key) => named('channel', key))),
      fromReport(t('dashboard.byLanguage'), (found) => ranking(found.languages, t('dashboard.language'))),
      fromReport(t('dashboard.byIntent'), (found) => ranking(found.intents, t('dashboard.intent'))),
      fromReport(t('dashboard.byQueue'), (found) => ranking(found.queues, t('supervisor.queue'))),
      fromReport(t('dashboard.sla'), slas),
      fromReport(t('dashboard.satisfaction'), satisfaction),
      fromReport(t('dashboard.agents'), agents),
      later(t('dashboard.deflections'), () => call<Deflections>('GET', `deflections${search(within)}`), deflections, { class: 'half', 'data-section': 'deflections' }),
    ),
  );
}
