// The dashboard's charts, drawn by uPlot (shipped with the console): the report's series per
// bucket (UTC), each chart sized to its place and redrawn when that changes; a bucket without a
// rate or a time is a gap in its line, never a 0.

import uPlot from './vendor/uplot.js';
import { asMinutes, asPercent, attainment, byHour, columns, starts, type Column } from './analytics.js';
import { h, type Child } from './dom.js';
import { duration } from './format.js';
import { locale, t, type Key } from './i18n.js';
import type { Bucket } from './route.js';
import type { Point, Report } from './types.js';

const HEIGHT = 220;
const ACCENT = '#2454d6';
const COLORS = [ACCENT, '#b42318', '#067647', '#b54708'];
const FONT = '13px system-ui, "Noto Sans TC", sans-serif';

type Unit = 'count' | 'percent' | 'minutes' | 'score';

interface Line extends Column {
  label: Key;
}

interface Chart {
  name: string;
  caption: Key;
  unit: Unit;
  range?: [number, number];
  lines: Line[];
}

const counted = (label: Key, pick: (point: Point) => number): Line => ({ label, pick, empty: 0 });
const measured = (label: Key, pick: (point: Point) => number | null | undefined): Line => ({ label, pick, empty: null });
const share = (part: number, whole: number): number | null => (whole ? part / whole : null);

const CHARTS: Chart[] = [
  { name: 'volume', caption: 'chart.volume', unit: 'count', lines: [counted('chart.conversations', (p) => p.conversations), counted('chart.escalated', (p) => p.escalated)] },
  {
    name: 'containment',
    caption: 'chart.containment',
    unit: 'percent',
    range: [0, 100],
    lines: [measured('chart.containmentRate', (p) => asPercent(p.containment_rate ?? share(p.contained, p.closed))), measured('chart.escalationRate', (p) => asPercent(p.escalation_rate ?? share(p.escalated, p.conversations)))],
  },
  { name: 'satisfaction', caption: 'chart.satisfaction', unit: 'score', range: [-100, 100], lines: [measured('chart.csat', (p) => asPercent(p.csat)), measured('chart.nps', (p) => p.nps)] },
  { name: 'sla', caption: 'chart.sla', unit: 'percent', range: [0, 100], lines: [measured('chart.slaAttainment', (p) => asPercent(p.sla_attainment ?? attainment(p.sla_met ?? 0, p.sla_breached ?? 0)))] },
  { name: 'response', caption: 'chart.response', unit: 'minutes', lines: [measured('chart.firstResponse', (p) => asMinutes(p.first_response_seconds_p50)), measured('chart.resolution', (p) => asMinutes(p.resolution_seconds_p50))] },
];

/** A value as the legend shows it. */
function shown(value: number | null, unit: Unit): string {
  if (value === null) return '—';
  if (unit === 'percent') return `${value.toFixed(1)}%`;
  if (unit === 'minutes') return duration(value * 60);
  return String(Math.round(value * 10) / 10);
}

/** A bucket start (unix seconds, UTC) as an axis shows it: the hour under a day, else the day. */
function stamp(at: number, hourly: boolean): string {
  const options: Intl.DateTimeFormatOptions = hourly ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } : { month: 'numeric', day: 'numeric' };
  return new Intl.DateTimeFormat(locale(), { ...options, timeZone: 'UTC' }).format(new Date(at * 1000));
}

/** The value axis's ticks, with as many decimals as their step needs (0.05 apart: two). */
function ticks(_: uPlot, splits: number[], _axis: number, _space: number, step: number): string[] {
  const decimals = step > 0 && step < 1 ? Math.min(6, Math.ceil(-Math.log10(step))) : 0;
  return splits.map((value) => value.toFixed(decimals));
}

function options(chart: Chart, width: number): uPlot.Options {
  const lines = chart.lines.map((line, index): uPlot.Series => ({ label: t(line.label), stroke: COLORS[index] ?? ACCENT, width: 2, spanGaps: false, value: (_, value) => shown(value, chart.unit) }));
  const stamps = (_: uPlot, splits: number[], _axis: number, _space: number, step: number): string[] => splits.map((at) => stamp(at, step < 86400));
  const x: uPlot.Series = { label: t('chart.time'), value: (_, at) => (at === null ? '—' : new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(at * 1000))) };
  const y: uPlot.Scale = chart.range ? { range: chart.range } : {};
  return { width, height: HEIGHT, series: [x, ...lines], scales: { x: { time: true }, y }, axes: [{ font: FONT, values: stamps }, { font: FONT, size: 56, values: ticks }] };
}

/** A chart in `place`, made once the place has a width and resized with it. */
function plot(place: HTMLElement, made: (width: number) => uPlot.Options, data: uPlot.AlignedData): void {
  let chart: uPlot | null = null;
  new ResizeObserver(() => {
    const width = place.clientWidth;
    if (!width) return;
    if (!chart) chart = new uPlot(made(width), data, place);
    else if (chart.width !== width) chart.setSize({ width, height: HEIGHT });
  }).observe(place);
}

function figure(name: string, caption: string, body: Child): HTMLElement {
  return h('figure', { class: 'chart', 'data-chart': name }, h('figcaption', {}, caption), body);
}

function empty(): HTMLElement {
  return h('p', { class: 'muted empty' }, t('chart.empty'));
}

function seriesChart(chart: Chart, report: Report, bucket: Bucket): HTMLElement {
  if (!report.series.length) return figure(chart.name, t(chart.caption), empty());
  const place = h('div', { class: 'plot' });
  plot(place, (width) => options(chart, width), columns(report.series, starts(report.from, report.to, bucket), chart.lines));
  return figure(chart.name, t(chart.caption), place);
}

/** Conversations by hour of day (UTC), as bars. */
function hoursChart(report: Report): HTMLElement {
  const counts = byHour(report.hours);
  if (!counts.some(Boolean)) return figure('hours', t('chart.hours'), empty());
  const place = h('div', { class: 'plot' });
  const bars = uPlot.paths.bars?.({ size: [0.8, 48] });
  const made = (width: number): uPlot.Options => ({
    width,
    height: HEIGHT,
    series: [{ label: t('chart.hour'), value: (_, hour) => (hour === null ? '—' : `${String(hour).padStart(2, '0')}:00`) }, { label: t('chart.conversations'), stroke: ACCENT, fill: `${ACCENT}99`, ...(bars ? { paths: bars } : {}) }],
    scales: { x: { time: false, range: [-0.5, 23.5] } },
    axes: [{ font: FONT, space: 28, values: (_, splits) => splits.map((hour) => (Number.isInteger(hour) ? String(hour).padStart(2, '0') : '')) }, { font: FONT, size: 56 }],
  });
  plot(place, made, [counts.map((_, hour) => hour), counts]);
  return figure('hours', t('chart.hours'), place);
}

/** Every chart of the report, by the bucket it was asked for. */
export function charts(report: Report, bucket: Bucket): HTMLElement {
  return h('div', { class: 'charts' }, CHARTS.map((chart) => seriesChart(chart, report, bucket)), hoursChart(report));
}
