// The dashboard's arithmetic, apart from the page (and so tested on Node): its period in UTC,
// quick ranges, the series' buckets, and the report's figures as chart columns and rankings.

import type { Bucket, DashboardQuery } from './route.js';
import type { Point, Share, Shares } from './types.js';

export type Range = '24h' | '7d' | '30d' | '90d';

export const RANGES: Range[] = ['24h', '7d', '30d', '90d'];

const DAY_MS = 86400000;
const STEP: Record<Bucket, number> = { hour: 3600, day: 86400, week: 7 * 86400 };
/** 1970-01-05, the first Monday after the epoch: weeks start on Mondays. */
const MONDAY = 4 * 86400;
/** Enough for a year by the hour; a longer period is refused by the server anyway. */
const MAX_BUCKETS = 9000;

/** The UTC day of `at` (milliseconds), `2026-11-01`. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** An instant as the API takes it, to the second. */
function iso(at: number): string {
  return new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The instant a day (its start) or an hour (`2026-11-01T13:00`) names, UTC. */
function instant(day: string): number {
  return Date.parse(day.length > 10 ? `${day}:00Z` : `${day}T00:00:00Z`);
}

/** The query with its period filled in: the last 7 days (today included) when unset. */
export function withPeriod(query: DashboardQuery, now: number): DashboardQuery {
  const to = query.to || utcDay(now);
  const from = query.from || utcDay(instant(to) - 6 * DAY_MS);
  return { ...query, from, to };
}

/** The report's period `[from, to)`: from the start of `from` to the end of the day `to`, or to
 * now when that is sooner. */
export function period(query: DashboardQuery, now: number): { from: string; to: string } {
  const filled = withPeriod(query, now);
  const end = filled.to.length > 10 ? instant(filled.to) : instant(filled.to) + DAY_MS;
  return { from: iso(instant(filled.from)), to: iso(Math.min(end, now)) };
}

/** The period and bucket a quick range stands for, up to now: the last 24 hours by the hour,
 * 7 or 30 days by the day, 90 by the week. */
export function quick(range: Range, now: number): Pick<DashboardQuery, 'from' | 'to' | 'bucket'> {
  const to = utcDay(now);
  if (range === '24h') return { from: `${new Date(now - DAY_MS).toISOString().slice(0, 13)}:00`, to, bucket: 'hour' };
  const days = Number.parseInt(range, 10);
  return { from: utcDay(now - (days - 1) * DAY_MS), to, bucket: days > 31 ? 'week' : 'day' };
}

/** What a date field means once submitted: the hour `before` named, while its day is unchanged. */
export function typedDay(typed: string, before: string): string {
  return before.startsWith(`${typed}T`) ? before : typed;
}

/** The starts (unix seconds) of the buckets from the one holding `from` up to `to`. */
export function starts(from: string, to: string, bucket: Bucket): number[] {
  const step = STEP[bucket];
  const offset = bucket === 'week' ? MONDAY : 0;
  const end = Date.parse(to) / 1000;
  const found: number[] = [];
  for (let at = Math.floor((Date.parse(from) / 1000 - offset) / step) * step + offset; at < end && found.length < MAX_BUCKETS; at += step) found.push(at);
  return found;
}

/** One line of a chart: its value in a bucket, and what a bucket the series lacks (nothing
 * happened in it) shows: 0 for counts, a gap (null) for rates and times. */
export interface Column {
  pick: (point: Point) => number | null | undefined;
  empty: number | null;
}

export type Columns = [number[], ...(number | null)[][]];

/** Chart data as uPlot takes it: the bucket starts (the period's and the series' own, in order),
 * then an array per column, null where there is no value. */
export function columns(series: Point[], frame: number[], wanted: Column[]): Columns {
  const byStart = new Map(series.map((point) => [Math.floor(Date.parse(point.start) / 1000), point]));
  const xs = [...new Set([...frame, ...byStart.keys()])].sort((a, b) => a - b);
  const values = (column: Column): (number | null)[] =>
    xs.map((x) => {
      const point = byStart.get(x);
      return point ? (column.pick(point) ?? null) : column.empty;
    });
  return [xs, ...wanted.map(values)];
}

/** A rate as a percentage for a chart, null kept. */
export function asPercent(fraction: number | null | undefined): number | null {
  return fraction === null || fraction === undefined ? null : fraction * 100;
}

/** Seconds as minutes for a chart, null kept. */
export function asMinutes(seconds: number | null | undefined): number | null {
  return seconds === null || seconds === undefined ? null : seconds / 60;
}

/** Counts by key, however the report gives them (a list or an object), most first. */
export function shares(given: Shares | undefined): Share[] {
  const list = Array.isArray(given) ? given : Object.entries(given ?? {}).map(([key, count]) => ({ key, count }));
  return [...list].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

/** Conversations per hour of day (UTC), 0 to 23. */
export function byHour(given: Shares | undefined): number[] {
  const counts = Array.from({ length: 24 }, () => 0);
  for (const { key, count } of shares(given)) {
    const hour = Number.parseInt(key, 10);
    if (hour >= 0 && hour < 24) counts[hour] = (counts[hour] ?? 0) + count;
  }
  return counts;
}

/** Met / (met + breached), null when nothing ended. */
export function attainment(met: number, breached: number): number | null {
  return met + breached ? met / (met + breached) : null;
}
