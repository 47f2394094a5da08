// The reply box: a reply to the customer or an internal note, articles inserted from the
// suggestions, and macros (rendered by the desk in the conversation's language). The box lives
// as long as its conversation is open, so live updates never wipe a draft.

import { call, idempotencyKey } from './api.js';
import { h, show } from './dom.js';
import { t } from './i18n.js';
import { describe, notify } from './state.js';
import { typed } from './typing.js';
import type { Macro, Written } from './types.js';

type Mode = 'reply' | 'note';

interface Composer {
  conversationId: string;
  element: HTMLElement;
  text: HTMLTextAreaElement;
  macros: HTMLElement;
  articles: Set<string>;
  mode: Mode;
  /** The macro chosen, kept while live updates redraw the list. */
  chosenMacro: string;
}

let open: Composer | null = null;

/** The text of a macro for a conversation in `language` (`zh-TW` falls back to `zh`). */
export function macroText(saved: Macro, language: string): string {
  const primary = language.split('-')[0] ?? '';
  return saved.texts[language] ?? saved.texts[primary] ?? saved.texts[saved.default_locale] ?? '';
}

async function send(composer: Composer, after: (sequence: string) => void): Promise<void> {
  const text = composer.text.value.trim();
  if (!text) return;
  const path = `conversations/${encodeURIComponent(composer.conversationId)}/${composer.mode === 'reply' ? 'reply' : 'notes'}`;
  const body = composer.mode === 'reply' ? { text, article_ids: [...composer.articles], idempotency_key: idempotencyKey() } : { text };
  try {
    const written = await call<Written>('POST', path, body);
    composer.text.value = '';
    composer.articles.clear();
    notify(composer.mode === 'reply' ? t('composer.sent') : t('composer.noted'));
    after(written.sequence);
  } catch (error) {
    notify(describe(error), 'error');
  }
}

async function applyMacro(composer: Composer, macroId: string, after: (sequence: string) => void): Promise<void> {
  const articleId = [...composer.articles][0] ?? '';
  const body = { macro_id: macroId, article_id: articleId, idempotency_key: idempotencyKey() };
  try {
    const applied = await call<Written & { locale: string }>('POST', `conversations/${encodeURIComponent(composer.conversationId)}/macro`, body);
    notify(t('composer.macroSent', { locale: applied.locale }));
    after(applied.sequence);
  } catch (error) {
    notify(describe(error), 'error');
  }
}

function build(conversationId: string, after: (sequence: string) => void): Composer {
  const text = h('textarea', { name: 'reply', rows: 4, 'aria-label': t('composer.reply') });
  const macros = h('div', { class: 'macros' });
  const element = h('section', { class: 'composer', 'data-mode': 'reply' });
  const composer: Composer = { conversationId, element, text, macros, articles: new Set(), mode: 'reply', chosenMacro: '' };
  const tab = (mode: Mode, label: string): HTMLElement =>
    h('button', { type: 'button', class: 'tab', 'data-tab': mode, onclick: () => setMode(composer, mode) }, label);
  text.addEventListener('input', () => {
    if (composer.mode === 'reply') typed(conversationId);
  });
  text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) void send(composer, after);
    if (event.key === 'Escape') text.blur();
  });
  show(
    element,
    h('div', { class: 'tabs' }, tab('reply', t('composer.reply')), tab('note', t('composer.note'))),
    text,
    h('div', { class: 'composer-actions' }, h('button', { class: 'primary', 'data-action': 'send', onclick: () => void send(composer, after) }, t('composer.send')), h('span', { class: 'muted' }, t('composer.hint'))),
    macros,
  );
  setMode(composer, 'reply');
  return composer;
}

function setMode(composer: Composer, mode: Mode): void {
  composer.mode = mode;
  composer.element.dataset['mode'] = mode;
  composer.text.placeholder = mode === 'reply' ? t('composer.replyPlaceholder') : t('composer.notePlaceholder');
  for (const tab of composer.element.querySelectorAll<HTMLElement>('.tab')) {
    tab.classList.toggle('selected', tab.dataset['tab'] === mode);
  }
}

function renderMacros(composer: Composer, macros: Macro[], language: string, after: (sequence: string) => void): void {
  if (!macros.length) {
    show(composer.macros);
    return;
  }
  const select = h('select', { name: 'macro', 'aria-label': t('composer.macro') }, macros.map((saved) => h('option', { value: saved.macro_id, selected: saved.macro_id === composer.chosenMacro }, saved.name)));
  const preview = h('p', { class: 'macro-preview' });
  const previewOf = (): void => {
    composer.chosenMacro = select.value;
    const chosen = macros.find((saved) => saved.macro_id === select.value);
    preview.textContent = chosen ? macroText(chosen, language) : '';
  };
  select.addEventListener('change', previewOf);
  previewOf();
  const apply = h('button', { 'data-action': 'apply-macro', onclick: () => void applyMacro(composer, select.value, after) }, t('composer.applyMacro'));
  show(composer.macros, h('label', {}, h('span', {}, t('composer.macro')), select), apply, preview);
}

/** The conversation's reply box (the same element while it stays open), with its macros. */
export function composer(conversationId: string, macros: Macro[], language: string, after: (sequence: string) => void): HTMLElement {
  if (open?.conversationId !== conversationId) open = build(conversationId, after);
  renderMacros(open, macros, language, after);
  return open.element;
}

/** Puts `text` at the cursor of the reply and remembers the article it cites. */
export function insert(text: string, articleId: string): void {
  if (!open) return;
  const box = open.text;
  const at = box.selectionStart ?? box.value.length;
  const spaced = (at > 0 && !/\s$/.test(box.value.slice(0, at)) ? ' ' : '') + text;
  box.setRangeText(spaced, at, box.selectionEnd ?? at, 'end');
  open.articles.add(articleId);
  setMode(open, 'reply');
  box.focus();
}

export function focusReply(): void {
  if (!open) return;
  setMode(open, 'reply');
  open.text.focus();
}
