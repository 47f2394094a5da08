// Macros, for those who keep them (`macros.manage`): a text per language with placeholders, and
// what applying one also does (status, tags, queue, priority). Each save names the version it
// started from, so an edit made meanwhile by someone else is refused, not overwritten.

import { call } from './api.js';
import { h, show } from './dom.js';
import { when } from './format.js';
import { named, t } from './i18n.js';
import { describe, notify } from './state.js';
import type { Macro } from './types.js';

const STATUSES = ['unspecified', 'open', 'pending', 'resolved'];
const PRIORITIES = ['unspecified', 'low', 'normal', 'high', 'urgent'];
const PLACEHOLDERS = '{{customer_name}} {{order_id}} {{agent_name}} {{article_link}}';

function blank(): Macro {
  const actions = { status: 'unspecified', add_tags: [], queue: '', priority: 'unspecified' };
  return { macro_id: '', name: '', texts: { en: '' }, default_locale: 'en', actions, version: 0, updated_at: null, updated_by: '' };
}

function select(name: string, values: string[], chosen: string, label: (value: string) => string): HTMLSelectElement {
  return h('select', { name }, values.map((value) => h('option', { value, selected: value === chosen }, label(value))));
}

/** One text per language: a row each, more can be added. */
function textRows(texts: Record<string, string>): { element: HTMLElement; read: () => Record<string, string> } {
  const rows = h('div', { class: 'macro-texts' });
  const add = (locale: string, text: string): void => {
    const row = h('div', { class: 'macro-text' }, h('input', { name: 'locale', value: locale, 'aria-label': t('macros.locale'), size: 8 }), h('textarea', { name: 'text', rows: 3, 'aria-label': t('macros.text') }, text));
    row.append(h('button', { type: 'button', class: 'link', onclick: () => row.remove() }, t('macros.removeText')));
    rows.append(row);
  };
  for (const [locale, text] of Object.entries(texts)) add(locale, text);
  const element = h('div', {}, rows, h('button', { type: 'button', class: 'small', 'data-action': 'add-text', onclick: () => add('', '') }, t('macros.addText')));
  const read = (): Record<string, string> => {
    const found: Record<string, string> = {};
    for (const row of rows.querySelectorAll('.macro-text')) {
      const locale = row.querySelector<HTMLInputElement>('input')?.value.trim() ?? '';
      if (locale) found[locale] = row.querySelector<HTMLTextAreaElement>('textarea')?.value ?? '';
    }
    return found;
  };
  return { element, read };
}

function editor(saved: Macro, root: HTMLElement): HTMLElement {
  const fresh = saved.version === 0;
  const id = h('input', { name: 'macro_id', value: saved.macro_id, required: true, readonly: !fresh, pattern: '[A-Za-z0-9_\\-]+' });
  const name = h('input', { name: 'name', value: saved.name, required: true });
  const locale = h('input', { name: 'default_locale', value: saved.default_locale, size: 8 });
  const texts = textRows(saved.texts);
  const status = select('status', STATUSES, saved.actions.status, (value) => (value === 'unspecified' ? t('macros.leave') : named('status', value)));
  const priority = select('priority', PRIORITIES, saved.actions.priority, (value) => (value === 'unspecified' ? t('macros.leave') : named('priority', value)));
  const tags = h('input', { name: 'add_tags', value: saved.actions.add_tags.join(', ') });
  const queue = h('input', { name: 'queue', value: saved.actions.queue });
  const said = h('p', { class: 'error', role: 'alert' });
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const actions = { status: status.value === 'unspecified' ? '' : status.value, priority: priority.value === 'unspecified' ? '' : priority.value, queue: queue.value.trim(), add_tags: tags.value.split(',').map((tag) => tag.trim()).filter(Boolean) };
    const body = { name: name.value, texts: texts.read(), default_locale: locale.value.trim(), actions, expected_version: saved.version };
    try {
      const stored = await call<Macro>('PUT', `macros/${encodeURIComponent(id.value.trim())}`, body);
      notify(t('macros.saved', { version: stored.version }));
      await renderMacros(root, stored.macro_id, { saved: stored });
    } catch (error) {
      said.textContent = describe(error);
    }
  };
  const remove = async (): Promise<void> => {
    if (!confirm(t('macros.confirmDelete', { name: saved.name }))) return;
    try {
      await call('DELETE', `macros/${encodeURIComponent(saved.macro_id)}`);
      notify(t('macros.deleted'));
      await renderMacros(root, null, { deleted: saved.macro_id });
    } catch (error) {
      said.textContent = describe(error);
    }
  };
  const field = (label: string, input: HTMLElement): HTMLElement => h('label', {}, h('span', {}, label), input);
  return h(
    'form',
    { class: 'macro-editor panel', onsubmit: (event: Event) => void submit(event) },
    h('h3', {}, fresh ? t('macros.new') : t('macros.version', { version: saved.version, who: saved.updated_by, when: when(saved.updated_at) })),
    field(t('macros.id'), id),
    field(t('macros.name'), name),
    field(t('macros.defaultLocale'), locale),
    h('p', { class: 'muted' }, t('macros.placeholders', { placeholders: PLACEHOLDERS })),
    texts.element,
    h('h4', {}, t('macros.actions')),
    field(t('macros.status'), status),
    field(t('macros.priority'), priority),
    field(t('macros.queue'), queue),
    field(t('macros.tags'), tags),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-action': 'save-macro' }, t('macros.save')), fresh ? null : h('button', { type: 'button', 'data-action': 'delete-macro', onclick: () => void remove() }, t('macros.delete'))),
    said,
  );
}

/** One's own last change, which the list (read from the desk's read model) may not show yet. */
interface Written {
  saved?: Macro;
  deleted?: string;
}

/** `listed` as it is once `written` is in it. */
export function withWritten(listed: Macro[], written: Written): Macro[] {
  const { saved, deleted } = written;
  const others = listed.filter((found) => found.macro_id !== deleted && found.macro_id !== saved?.macro_id);
  const shown = listed.find((found) => found.macro_id === saved?.macro_id);
  const newest = saved && (!shown || shown.version < saved.version) ? saved : shown;
  return newest ? [...others, newest].sort((a, b) => a.name.localeCompare(b.name)) : others;
}

/** The macros screen, with `chosen` open in the editor (null: a new one). */
export async function renderMacros(root: HTMLElement, chosen: string | null = null, written: Written = {}): Promise<void> {
  let macros: Macro[];
  try {
    macros = withWritten((await call<{ macros: Macro[] }>('GET', 'macros')).macros, written);
  } catch (error) {
    show(root, h('p', { class: 'error' }, describe(error)));
    return;
  }
  const open = macros.find((saved) => saved.macro_id === chosen) ?? blank();
  const item = (saved: Macro): HTMLElement =>
    h('li', { class: saved.macro_id === chosen ? 'selected' : '', 'data-macro': saved.macro_id }, h('a', { href: '#/macros', onclick: (event: Event) => { event.preventDefault(); void renderMacros(root, saved.macro_id); } }, saved.name), ' ', h('span', { class: 'muted' }, Object.keys(saved.texts).join(', ')));
  show(
    root,
    h(
      'div',
      { class: 'macros-screen' },
      h('section', { class: 'panel' }, h('h2', {}, t('macros.title')), h('ul', { class: 'macro-list' }, macros.map(item)), h('button', { 'data-action': 'new-macro', onclick: () => void renderMacros(root, null) }, t('macros.new'))),
      editor(open, root),
    ),
  );
}
