// Times and numbers as people read them, in the console's language.

import { locale } from './i18n.js';

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** `in 5 minutes`, `3 hours ago` (`5 分鐘後`, `3 小時前`); `—` when unset. */
export function relative(at: string | null, now: number = Date.now()): string {
  if (!at) return '—';
  const seconds = Math.round((Date.parse(at) - now) / 1000);
  const format = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'second') return format.format(Math.round(seconds / size), unit);
  }
  return '—';
}

/** A date and time, short. */
export function when(at: string | null): string {
  if (!at) return '—';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'short', timeStyle: 'short' }).format(new Date(at));
}

/** Whether `at` is within `minutes` from now (or past). */
export function dueWithin(at: string | null, minutes: number, now: number = Date.now()): boolean {
  return at !== null && Date.parse(at) - now <= minutes * 60000;
}

export function percent(score: number): string {
  return `${Math.round(score * 100)}%`;
}
