// Signing in: tenant, agent id and password, traded for a token (Auth/SignIn) kept for the
// browser session.

import { ApiFailure, call, keepSession } from './api.js';
import { h, show } from './dom.js';
import { switchLocale, t } from './i18n.js';
import type { Session } from './types.js';

/** Why signing in did not work, in the console's language. */
function refusal(error: unknown): string {
  if (error instanceof ApiFailure) {
    if (error.status === 401) return t('signIn.wrong');
    if (error.status === 429) return t('signIn.tooMany', { detail: error.message });
    return t('error.failed', { detail: error.message });
  }
  return t('error.offline');
}

/** Shows the sign-in form in `root`; `done` runs once signed in. */
export function signIn(root: HTMLElement, done: () => void, why = ''): void {
  const tenant = h('input', { name: 'tenant', required: true, value: 'default', autocomplete: 'organization' });
  const subject = h('input', { name: 'subject', required: true, autocomplete: 'username' });
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
  const said = h('p', { class: 'error', role: 'alert' }, why);
  const button = h('button', { type: 'submit', class: 'primary' }, t('signIn.submit'));
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    button.disabled = true;
    said.textContent = '';
    try {
      const form = { tenant: tenant.value, subject: subject.value, password: password.value };
      const signedIn = await call<Session>('POST', 'sign-in', form);
      keepSession(signedIn);
      // An agent who signs in is there to work: online, so conversations come to them.
      if (signedIn.identity.role === 'agent') await call('PUT', 'presence', { presence: 'online' }).catch(() => undefined);
      done();
    } catch (error) {
      said.textContent = refusal(error);
      password.select();
    } finally {
      button.disabled = false;
    }
  };
  const field = (label: string, input: HTMLInputElement): HTMLElement => h('label', {}, h('span', {}, label), input);
  const relabel = (): void => {
    switchLocale();
    signIn(root, done, said.textContent ?? '');
  };
  show(
    root,
    h(
      'main',
      { class: 'sign-in' },
      h(
        'form',
        { onsubmit: (event: Event) => void submit(event) },
        h('h1', {}, t('app.name')),
        h('p', { class: 'muted' }, t('signIn.intro')),
        field(t('signIn.tenant'), tenant),
        field(t('signIn.subject'), subject),
        field(t('signIn.password'), password),
        button,
        said,
        h('button', { type: 'button', class: 'link', 'data-action': 'language', onclick: relabel }, t('app.otherLanguage')),
      ),
    ),
  );
  subject.focus();
}
