// Times and numbers as people read them, in the console's language.

import { locale, t, type Key } from './i18n.js';

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

const DURATIONS: [Key, number, Key, number][] = [
  ['duration.d', 86400, 'duration.h', 3600],
  ['duration.h', 3600, 'duration.min', 60],
  ['duration.min', 60, 'duration.s', 1],
];

/** Two units of a time, the larger first: `45 s`, `4 min 10 s`, `2 h 5 min`, `3 d 4 h`
 * (`4 分 10 秒`, ...); `—` when unset. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  for (const [large, size, small, step] of DURATIONS) {
    const total = Math.round(seconds / step);
    const whole = Math.floor((total * step) / size);
    if (whole < 1) continue;
    const rest = total - (whole * size) / step;
    return rest ? `${t(large, { n: whole })} ${t(small, { n: rest })}` : t(large, { n: whole });
  }
  return t('duration.s', { n: Math.round(seconds) });
}

/** A rate (0..1) as a percentage with one decimal, `42.5%`; `—` when unset. */
export function rate(fraction: number | null | undefined): string {
  return fraction === null || fraction === undefined ? '—' : `${(fraction * 100).toFixed(1)}%`;
}

/** A count with the language's grouping, `12,345`. */
export function count(value: number): string {
  return new Intl.NumberFormat(locale()).format(value);
}

/** How many times the usual, `×3.0`; `—` when unset. */
export function times(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? '—' : `×${ratio.toFixed(1)}`;
}
