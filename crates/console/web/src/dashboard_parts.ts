// The dashboard's tables and lists: the report's rankings (hand-off reasons, volume by channel,
// language, intent and queue), SLAs per queue, satisfaction and agents; intent trends with their
// spikes; the questions nobody answered (content gaps); and what each article deflects.

import { may } from './api.js';
import { attainment, shares } from './analytics.js';
import { h, type Child } from './dom.js';
import { count, duration, rate, relative, times } from './format.js';
import { named, t } from './i18n.js';
import { href } from './route.js';
import { table } from './sections.js';
import type { Deflections, Gap, Gaps, Report, Shares, Trend, Trends } from './types.js';

/** How many examples a content gap shows. */
const EXAMPLES = 3;

function none(): HTMLElement {
  return h('p', { class: 'muted' }, t('dashboard.nothing'));
}

/** A ranking of counts by key, with each one's share as a bar. */
export function ranking(given: Shares, head: string, label: (key: string) => string = (key) => key): HTMLElement {
  const found = shares(given);
  if (!found.length) return none();
  const total = found.reduce((sum, share) => sum + share.count, 0);
  const rows = found.map((share): Child[] => [label(share.key) || '—', count(share.count), h('meter', { min: 0, max: total, value: share.count, title: rate(share.count / total) })]);
  return table([head, t('dashboard.count'), t('dashboard.share')], rows);
}

export function reasons(report: Report): HTMLElement {
  return ranking(report.handoff_reasons, t('dashboard.reason'), (key) => named('reason', key));
}

export function slas(report: Report): HTMLElement {
  if (!report.sla.length) return none();
  const rows = report.sla.map((figure): Child[] => [figure.queue || '—', named('metric', figure.metric), count(figure.met), count(figure.breached), rate(attainment(figure.met, figure.breached))]);
  return table([t('supervisor.queue'), t('dashboard.target'), t('dashboard.met'), t('supervisor.breached'), t('dashboard.attainment')], rows);
}

export function satisfaction(report: Report): HTMLElement {
  if (!report.satisfaction.length) return none();
  const rows = report.satisfaction.map((figure): Child[] => [named('dimension', figure.dimension), figure.key || '—', count(figure.answers), rate(figure.csat)]);
  return table([t('dashboard.by'), t('dashboard.who'), t('dashboard.answers'), t('dashboard.csat')], rows);
}

export function agents(report: Report): HTMLElement {
  if (!report.agent_figures.length) return none();
  const rows = report.agent_figures.map((figure): Child[] => [figure.agent, count(figure.closed), duration(figure.handle_seconds_p50)]);
  return table([t('supervisor.agent'), t('dashboard.closed'), t('dashboard.handle')], rows);
}

/** Intents against their usual for the same hours of past weeks; spikes first and marked. */
export function trends(found: Trends): HTMLElement {
  if (!found.trends.length) return none();
  const row = (trend: Trend): HTMLElement => {
    const intent = h('td', {}, trend.intent, trend.spike ? h('span', { class: 'spike-mark' }, t('trends.spike')) : null);
    const cells = [count(trend.count), String(Math.round(trend.baseline_median * 10) / 10), times(trend.ratio), score(trend.score)].map((cell) => h('td', {}, cell));
    return h('tr', { class: trend.spike ? 'spike' : undefined, 'data-intent': trend.intent }, intent, cells);
  };
  const heads = [t('dashboard.intent'), t('trends.window'), t('trends.usual'), t('trends.ratio'), t('trends.score')];
  return h('table', { class: 'trends' }, h('thead', {}, h('tr', {}, heads.map((head) => h('th', {}, head)))), h('tbody', {}, found.trends.map(row)));
}

/** The link that starts an article from a gap's questions. */
function writeLink(gap: Gap): HTMLElement | null {
  if (!may('articles.write')) return null;
  const examples = gap.examples.length ? gap.examples : [gap.wording];
  const target = href({ screen: 'article', draft: { question: examples[0] ?? gap.wording, examples } });
  return h('a', { class: 'button', href: target, 'data-action': 'write-article' }, t('gaps.write'));
}

function gap(found: Gap): HTMLElement {
  const kinds = found.kinds.map((kind) => named('gapKind', kind)).join(', ');
  return h(
    'li',
    { 'data-gap': found.wording },
    h('div', { class: 'gap-head' }, h('strong', { class: 'gap-count', title: t('gaps.count') }, count(found.count)), h('span', { class: 'gap-wording' }, found.wording)),
    h('ul', { class: 'examples' }, found.examples.slice(0, EXAMPLES).map((example) => h('li', {}, `“${example}”`))),
    h('p', { class: 'meta' }, h('span', {}, t('gaps.from', { kinds: kinds || '—' })), h('span', {}, t('gaps.last', { when: relative(found.last_asked) }))),
    writeLink(found),
  );
}

/** Questions that went unanswered, most asked first. */
export function gaps(found: Gaps): HTMLElement {
  return found.gaps.length ? h('ol', { class: 'gaps' }, found.gaps.map(gap)) : h('p', { class: 'muted' }, t('gaps.none'));
}

/** Per article: searches that showed it, and those with no conversation in the next 24 hours. */
export function deflections(found: Deflections): HTMLElement {
  if (!found.articles.length) return none();
  const rows = found.articles.map((article): Child[] => [article.title || article.article_id, count(article.searches), count(article.deflected), count(article.pending), rate(article.deflection_rate)]);
  return table([t('deflections.article'), t('deflections.searches'), t('deflections.deflected'), t('deflections.pending'), t('deflections.rate')], rows);
}

/** A robust z-score; with no spread in the past weeks any change is infinitely unusual. */
function score(value: number): string {
  return Math.abs(value) >= 1e9 ? (value > 0 ? '∞' : '−∞') : value.toFixed(1);
}
