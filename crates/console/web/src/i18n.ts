// Every string the console shows, in English and Traditional Chinese: chosen by the browser's
// languages, switched by hand (remembered in localStorage).

import { en, type Key } from './strings.js';
import { zhHant } from './strings_zh.js';

export type Locale = 'en' | 'zh-Hant';
export type { Key };

const LOCALE_KEY = 'switchboard-console:locale';
const TABLES: Record<Locale, Record<Key, string>> = { en, 'zh-Hant': zhHant };

/** The console's language for a browser's preferences: Chinese of any script reads the
 * Traditional strings (the closest there are), anything else English. */
export function pick(languages: readonly string[]): Locale {
  for (const language of languages) {
    const lower = language.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-Hant';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

let chosen: Locale = 'en';

export function locale(): Locale {
  return chosen;
}

/** The language remembered, else the browser's. */
export function initLocale(): void {
  const kept = localStorage.getItem(LOCALE_KEY);
  setLocale(kept === 'en' || kept === 'zh-Hant' ? kept : pick(navigator.languages));
}

export function setLocale(next: Locale): void {
  chosen = next;
  document.documentElement.lang = next;
}

export function switchLocale(): void {
  setLocale(chosen === 'en' ? 'zh-Hant' : 'en');
  localStorage.setItem(LOCALE_KEY, chosen);
}

/** The string `key` in the console's language, `{name}` replaced from `params`. */
export function t(key: Key, params: Record<string, string | number> = {}): string {
  const text = TABLES[chosen][key];
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** A string for a name from the API (a status, a channel, ...), or the name itself. */
export function named(prefix: string, name: string): string {
  const key = `${prefix}.${name}` as Key;
  return key in en ? t(key) : name;
}
