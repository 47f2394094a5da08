// Writing a help-centre article (`articles.write`), started from questions customers asked that
// nothing answered (the dashboard's content gaps): the questions become its title and its
// example questions; it is saved as a draft or published at once.

import { call } from './api.js';
import { h, show } from './dom.js';
import { locale, named, t } from './i18n.js';
import { dashboardQuery, go, type Draft } from './route.js';
import { describe, notify } from './state.js';
import type { NewArticle, WrittenArticle } from './types.js';

const LOCALES = ['en', 'zh-Hant'];

function field(label: string, input: HTMLElement): HTMLElement {
  return h('label', {}, h('span', {}, label), input);
}

/** The lines that say something, trimmed. */
export function lines(text: string): string[] {
  return text.split('\n').map((line) => line.trim()).filter(Boolean);
}

export function renderArticle(root: HTMLElement, draft: Draft): void {
  const title = h('input', { name: 'title', value: draft.question, 'aria-required': 'true' });
  const language = h('select', { name: 'locale' }, LOCALES.map((value) => h('option', { value, selected: value === locale() }, named('locale', value))));
  const body = h('textarea', { name: 'body', rows: 14, 'aria-required': 'true', placeholder: t('article.bodyHint') });
  const examples = h('textarea', { name: 'example_questions', rows: 5 }, draft.examples.join('\n'));
  const said = h('p', { class: 'error', role: 'alert' });
  const buttons = [
    h('button', { type: 'submit', 'data-action': 'save-draft' }, t('article.saveDraft')),
    h('button', { type: 'submit', class: 'primary', 'data-action': 'publish' }, t('article.publish')),
  ];
  const send = async (event: SubmitEvent): Promise<void> => {
    event.preventDefault();
    const missing = [title, body].filter((input) => !input.value.trim());
    for (const input of [title, body]) {
      if (missing.includes(input)) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
    if (missing.length) {
      said.textContent = t('article.missing');
      missing[0]?.focus();
      return;
    }
    const publish = event.submitter instanceof HTMLElement && event.submitter.dataset['action'] === 'publish';
    const article: NewArticle = { title: title.value.trim(), body: body.value, locale: language.value, example_questions: lines(examples.value), publish };
    buttons.forEach((button) => (button.disabled = true));
    try {
      await call<WrittenArticle>('POST', 'articles', article);
      notify(t(publish ? 'article.published' : 'article.drafted', { title: article.title }));
      go({ screen: 'dashboard', query: dashboardQuery() });
    } catch (error) {
      said.textContent = describe(error);
      buttons.forEach((button) => (button.disabled = false));
    }
  };
  show(
    root,
    h(
      'div',
      { class: 'article-screen' },
      h(
        'form',
        { class: 'article-editor panel', novalidate: true, onsubmit: (event: Event) => void send(event as SubmitEvent) },
        h('h2', {}, t('article.heading')),
        h('p', { class: 'muted' }, t('article.intro')),
        field(t('article.title'), title),
        field(t('article.locale'), language),
        field(t('article.body'), body),
        field(t('article.examples'), examples),
        said,
        h('div', { class: 'actions' }, buttons, h('a', { href: '#/dashboard', class: 'cancel' }, t('article.cancel'))),
      ),
    ),
  );
}
