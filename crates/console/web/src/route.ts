// Where the console is, kept in the URL's fragment so that a reload or a shared link opens the
// same screen: `#/inbox/<view>[/<conversation>]`, `#/supervisor` or `#/macros`.

/** `mine`, `unassigned`, `all` or `queue:<name>`. */
export type InboxView = string;

export type Route =
  | { screen: 'inbox'; view: InboxView; conversation: string | null }
  | { screen: 'supervisor' }
  | { screen: 'macros' };

const VIEWS = ['mine', 'unassigned', 'all'];

function validView(view: string): boolean {
  return VIEWS.includes(view) || (view.startsWith('queue:') && view.length > 'queue:'.length);
}

export function parse(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'supervisor') return { screen: 'supervisor' };
  if (parts[0] === 'macros') return { screen: 'macros' };
  const view = parts[1] && validView(parts[1]) ? parts[1] : 'mine';
  return { screen: 'inbox', view, conversation: parts[2] || null };
}

export function href(route: Route): string {
  if (route.screen === 'supervisor') return '#/supervisor';
  if (route.screen === 'macros') return '#/macros';
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
