// Keyboard shortcuts: j / k next and previous conversation, r reply, e resolve, c claim,
// S the supervisor's view, ? the list of shortcuts. Ignored while typing in a field.

import { focusReply } from './composer.js';
import { claim, resolve } from './conversation.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { step } from './inbox.js';
import { go } from './route.js';
import { state } from './state.js';

const SHORTCUTS: [string, () => string][] = [
  ['j', () => t('keys.next')],
  ['k', () => t('keys.previous')],
  ['r', () => t('keys.reply')],
  ['e', () => t('keys.resolve')],
  ['c', () => t('keys.claim')],
  ['Ctrl+Enter', () => t('keys.send')],
  ['S', () => t('keys.supervisor')],
  ['?', () => t('keys.help')],
];

function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

function toggleHelp(): void {
  const shown = document.querySelector('#shortcuts');
  if (shown) {
    shown.remove();
    return;
  }
  const list = h('dl', {}, SHORTCUTS.map(([key, what]) => [h('dt', {}, h('kbd', {}, key)), h('dd', {}, what())]).flat());
  document.body.append(h('div', { id: 'shortcuts', class: 'dialog', role: 'dialog', 'aria-label': t('keys.title') }, h('h3', {}, t('keys.title')), list));
}

export function listen(): void {
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const open = state.selected !== null;
    const actions: Record<string, () => void> = {
      j: () => step(1),
      k: () => step(-1),
      r: () => open && focusReply(),
      e: () => open && void resolve(),
      c: () => open && void claim(),
      '?': toggleHelp,
      Escape: () => document.querySelector('#shortcuts')?.remove(),
      S: () => go({ screen: 'supervisor' }),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });
}
