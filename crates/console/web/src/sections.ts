// Sections of the supervisor's screens: each loads on its own and shows its data, or why it
// cannot, so one failing call leaves the others standing.

import { h, type Attrs, type Child } from './dom.js';
import { t } from './i18n.js';
import { describe } from './state.js';

export function table(heads: string[], rows: Child[][]): HTMLElement {
  return h('table', {}, h('thead', {}, h('tr', {}, heads.map((head) => h('th', {}, head)))), h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell))))));
}

/** A panel's attributes: its class added to `panel`. */
function panel(attrs: Attrs): Attrs {
  const { class: more, ...rest } = attrs;
  return { ...rest, class: more ? `panel ${String(more)}` : 'panel' };
}

/** A section that shows its data, or why it cannot. */
export async function section<T>(title: string, load: () => Promise<T>, draw: (found: T) => HTMLElement, attrs: Attrs = {}): Promise<HTMLElement> {
  const shell = (...body: Child[]): HTMLElement => h('section', panel(attrs), h('h3', {}, title), ...body);
  try {
    return shell(draw(await load()));
  } catch (error) {
    return shell(h('p', { class: 'error' }, describe(error)));
  }
}

/** The same, shown at once as loading and filled in when its data comes. */
export function later<T>(title: string, load: () => Promise<T>, draw: (found: T) => HTMLElement, attrs: Attrs = {}): HTMLElement {
  const waiting = h('section', { ...panel(attrs), 'aria-busy': 'true' }, h('h3', {}, title), h('p', { class: 'muted' }, t('dashboard.loading')));
  void section(title, load, draw, attrs).then((drawn) => waiting.replaceWith(drawn));
  return waiting;
}
