// Where the console is, kept in the URL's fragment so that a reload or a shared link opens the
// same screen: `#/inbox/<view>[/<conversation>]`, `#/supervisor`, `#/macros`,
// `#/dashboard?from=2026-11-01&to=2026-11-30&bucket=day&channel=web` or
// `#/articles/new?question=...&examples=...`.

/** `mine`, `unassigned`, `all` or `queue:<name>`. */
export type InboxView = string;

export type Bucket = 'hour' | 'day' | 'week';

/** The dashboard's period and filters. `from` and `to` are UTC days (`2026-11-01`, `to`
 * included), `from` may name an hour (`2026-11-01T13:00`); empty: the last 7 days. An empty
 * filter is any. */
export interface DashboardQuery {
  from: string;
  to: string;
  bucket: Bucket;
  channel: string;
  queue: string;
  intent: string;
  language: string;
  agent: string;
}

/** An article to write, from questions customers asked. */
export interface Draft {
  question: string;
  examples: string[];
}

export type Route =
  | { screen: 'inbox'; view: InboxView; conversation: string | null }
  | { screen: 'supervisor' }
  | { screen: 'macros' }
  | { screen: 'dashboard'; query: DashboardQuery }
  | { screen: 'article'; draft: Draft };

const VIEWS = ['mine', 'unassigned', 'all'];
const BUCKETS: Bucket[] = ['hour', 'day', 'week'];
const FILTERS = ['channel', 'queue', 'intent', 'language', 'agent'] as const;
const DAY = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?$/;

function validView(view: string): boolean {
  return VIEWS.includes(view) || (view.startsWith('queue:') && view.length > 'queue:'.length);
}

export function dashboardQuery(search: URLSearchParams = new URLSearchParams()): DashboardQuery {
  const day = (name: string): string => {
    const value = search.get(name) ?? '';
    return DAY.test(value) ? value : '';
  };
  const bucket = BUCKETS.find((known) => known === search.get('bucket')) ?? 'day';
  const query: DashboardQuery = { from: day('from'), to: day('to'), bucket, channel: '', queue: '', intent: '', language: '', agent: '' };
  for (const name of FILTERS) query[name] = search.get(name) ?? '';
  return query;
}

export function parse(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#\/?/, '').split(/\?(.*)/s);
  const parts = path.split('/').map(decodeURIComponent);
  const params = new URLSearchParams(search);
  if (parts[0] === 'supervisor') return { screen: 'supervisor' };
  if (parts[0] === 'macros') return { screen: 'macros' };
  if (parts[0] === 'dashboard') return { screen: 'dashboard', query: dashboardQuery(params) };
  if (parts[0] === 'articles' && parts[1] === 'new') {
    const examples = (params.get('examples') ?? '').split('\n').filter((line) => line.trim());
    return { screen: 'article', draft: { question: params.get('question') ?? '', examples } };
  }
  const view = parts[1] && validView(parts[1]) ? parts[1] : 'mine';
  return { screen: 'inbox', view, conversation: parts[2] || null };
}

/** `?name=value&...` of the values that are set, in the order given. */
function search(params: [string, string][]): string {
  const text = new URLSearchParams(params.filter(([, value]) => value !== '')).toString();
  return text ? `?${text}` : '';
}

export function href(route: Route): string {
  if (route.screen === 'supervisor') return '#/supervisor';
  if (route.screen === 'macros') return '#/macros';
  if (route.screen === 'dashboard') {
    const { from, to, bucket } = route.query;
    return `#/dashboard${search([['from', from], ['to', to], ['bucket', bucket], ...FILTERS.map((name): [string, string] => [name, route.query[name]])])}`;
  }
  if (route.screen === 'article') return `#/articles/new${search([['question', route.draft.question], ['examples', route.draft.examples.join('\n')]])}`;
  const base = `#/inbox/${encodeURIComponent(route.view)}`;
  return route.conversation ? `${base}/${encodeURIComponent(route.conversation)}` : base;
}

export function current(): Route {
  return parse(location.hash);
}

export function go(route: Route): void {
  const target = href(route);
  if (location.hash !== target) location.hash = target;
}
