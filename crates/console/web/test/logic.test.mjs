// The console's logic that needs no browser, on Node's own test runner against the compiled
// modules (dist/js). Run by `npm test`, and by `cargo test -p switchboard-console`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { compare, belongs, filters, upsert } from '../dist/js/rows.js';
import { frames } from '../dist/js/live.js';
import { parse, href } from '../dist/js/route.js';
import { pick, t, setLocale } from '../dist/js/i18n.js';
import { en } from '../dist/js/strings.js';
import { zhHant } from '../dist/js/strings_zh.js';
import { macroText } from '../dist/js/composer.js';
import { duration, rate, relative, times } from '../dist/js/format.js';
import { asMinutes, asPercent, byHour, columns, period, quick, shares, starts, typedDay } from '../dist/js/analytics.js';
import { withWritten } from '../dist/js/macros.js';

globalThis.document = { documentElement: {} }; // setLocale marks the page's language

const row = (id, fields = {}) => ({
  conversation_id: id, customer_id: 'c', channel: 'web', status: 'escalated', queue: 'general',
  priority: 'normal', assignee: '', preview: '', sla_due_at: null, sla_breached: false,
  handoff_reason: '', language: 'en', created_at: '2026-01-01T00:00:00Z', updated_at: null,
  sequence: '1', ...fields,
});

test('rows keep the desk order: SLA due first (none last), then priority, then age', () => {
  const due = row('a', { sla_due_at: '2026-01-01T01:00:00Z' });
  const urgent = row('b', { priority: 'urgent' });
  const older = row('c', { created_at: '2025-12-31T00:00:00Z' });
  const newer = row('d');
  assert.deepEqual([newer, older, urgent, due].sort(compare).map((r) => r.conversation_id), ['a', 'b', 'c', 'd']);
});

test('a view shows its open work; unassigned is what waits for a person', () => {
  assert.ok(belongs(row('a', { assignee: 'ana', status: 'assigned' }), 'mine', 'ana', ''));
  assert.ok(!belongs(row('a', { assignee: 'ana', status: 'resolved' }), 'mine', 'ana', ''));
  assert.ok(belongs(row('a', { status: 'resolved' }), 'all', 'ana', 'resolved'), 'a chosen status shows');
  assert.ok(belongs(row('a'), 'unassigned', 'ana', ''));
  assert.ok(!belongs(row('a', { status: 'open' }), 'unassigned', 'ana', ''), 'the bot has it');
  assert.ok(!belongs(row('a', { assignee: 'bob', status: 'assigned' }), 'unassigned', 'ana', ''));
  assert.ok(belongs(row('a', { queue: 'billing' }), 'queue:billing', 'ana', ''));
  assert.deepEqual(filters('mine', ''), { assignee: 'me' });
  assert.deepEqual(filters('queue:billing', 'queued'), { status: 'queued', queue: 'billing' });
});

test('a live change moves a row, removes it when it leaves the view, and never goes back in time', () => {
  const rows = [row('a', { sequence: '5' }), row('b', { priority: 'high', sequence: '6' })];
  assert.deepEqual(upsert(rows, row('a', { priority: 'urgent', sequence: '7' }), true).map((r) => r.conversation_id), ['a', 'b']);
  assert.deepEqual(upsert(rows, row('b', { sequence: '8' }), false).map((r) => r.conversation_id), ['a']);
  assert.equal(upsert(rows, row('a', { priority: 'urgent', sequence: '4' }), true), rows, 'an older state is ignored');
});

test('server-sent events are split into whole frames, keep-alives skipped', () => {
  const [found, rest] = frames(':keep-alive\n\nid: 41\nevent: change\ndata: {"a":1}\n\nid: 42\nevent: ch');
  assert.deepEqual(found, [{ id: '41', event: 'change', data: '{"a":1}' }]);
  assert.equal(rest, 'id: 42\nevent: ch');
  const [crlf] = frames('event: error\r\ndata: x\r\ndata: y\r\n\r\n');
  assert.deepEqual(crlf, [{ id: null, event: 'error', data: 'x\ny' }]);
});

test('routes go both ways and an unknown view is the agent’s own', () => {
  assert.deepEqual(parse('#/inbox/queue%3Abilling/c-1'), { screen: 'inbox', view: 'queue:billing', conversation: 'c-1' });
  assert.equal(href({ screen: 'inbox', view: 'unassigned', conversation: 'c 2' }), '#/inbox/unassigned/c%202');
  assert.deepEqual(parse('#/inbox/nonsense'), { screen: 'inbox', view: 'mine', conversation: null });
  assert.deepEqual(parse('#/macros'), { screen: 'macros' });
});

test('the browser’s languages choose English or Traditional Chinese, and every string has both', () => {
  assert.equal(pick(['zh-TW', 'en']), 'zh-Hant');
  assert.equal(pick(['zh-CN']), 'zh-Hant', 'the closest there is');
  assert.equal(pick(['fr', 'en-GB']), 'en');
  assert.equal(pick(['fr']), 'en');
  assert.deepEqual(Object.keys(zhHant).sort(), Object.keys(en).sort());
  setLocale('zh-Hant');
  assert.equal(t('conversation.heldBy', { agent: 'ana' }), '由 ana 處理');
  setLocale('en');
  assert.equal(t('conversation.heldBy', { agent: 'ana' }), 'Held by ana');
  assert.equal(relative('2026-01-01T00:05:00Z', Date.parse('2026-01-01T00:00:00Z')), 'in 5 minutes');
});

test('a macro previews in the conversation’s language, its primary language, else its default', () => {
  const saved = { texts: { en: 'Hello', zh: '你好', 'zh-Hant': '您好' }, default_locale: 'en' };
  assert.equal(macroText(saved, 'zh-Hant'), '您好');
  assert.equal(macroText(saved, 'zh-Hans'), '你好');
  assert.equal(macroText(saved, 'de'), 'Hello');
});

test('one\u2019s own save or delete shows before the desk\u2019s list catches up', () => {
  const macro = (id, name, version) => ({ macro_id: id, name, version, texts: {}, default_locale: 'en' });
  const listed = [macro('b', 'Billing', 1), macro('a', 'Apology', 2)];
  assert.deepEqual(withWritten(listed, { saved: macro('c', 'Closing', 1) }).map((m) => m.macro_id), ['a', 'b', 'c']);
  assert.equal(withWritten(listed, { saved: macro('a', 'Apology', 3) })[0].version, 3, 'the newer version');
  assert.equal(withWritten(listed, { saved: macro('a', 'Apology', 1) })[0].version, 2, 'not an older one');
  assert.deepEqual(withWritten(listed, { deleted: 'b' }).map((m) => m.macro_id), ['a']);
});

test('times read in their two largest units, rates as percentages with one decimal, unset as a dash', () => {
  setLocale('en');
  assert.equal(duration(45), '45 s');
  assert.equal(duration(250), '4 min 10 s');
  assert.equal(duration(120), '2 min');
  assert.equal(duration(7500), '2 h 5 min');
  assert.equal(duration(3599.7), '1 h', 'rounded up into the next unit');
  assert.equal(duration(3 * 86400 + 4 * 3600 + 59), '3 d 4 h');
  assert.equal(duration(null), '—');
  setLocale('zh-Hant');
  assert.equal(duration(250), '4 分 10 秒');
  setLocale('en');
  assert.equal(rate(0.4251), '42.5%');
  assert.equal(rate(0), '0.0%');
  assert.equal(rate(1), '100.0%');
  assert.equal(rate(null), '—');
  assert.equal(times(3), '×3.0');
  assert.equal(times(null), '—');
});

const blank = { from: '', to: '', bucket: 'day', channel: '', queue: '', intent: '', language: '', agent: '' };

test('the dashboard’s period and filters live in the fragment, both ways; an article to write too', () => {
  const query = { ...blank, from: '2026-11-01', to: '2026-11-30', channel: 'web' };
  const link = href({ screen: 'dashboard', query });
  assert.equal(link, '#/dashboard?from=2026-11-01&to=2026-11-30&bucket=day&channel=web');
  assert.deepEqual(parse(link), { screen: 'dashboard', query });
  assert.deepEqual(parse('#/dashboard'), { screen: 'dashboard', query: blank });
  assert.deepEqual(parse('#/dashboard?from=last%20week&bucket=month&agent=ana').query, { ...blank, agent: 'ana' }, 'nonsense is dropped');
  const hourly = { ...blank, from: '2026-12-05T12:00', to: '2026-12-06', bucket: 'hour' };
  assert.deepEqual(parse(href({ screen: 'dashboard', query: hourly })).query, hourly);
  const draft = { question: 'Where is my refund?', examples: ['Where is my refund?', 'refund & status: 2 weeks?'] };
  assert.equal(href({ screen: 'article', draft }).split('?')[0], '#/articles/new');
  assert.deepEqual(parse(href({ screen: 'article', draft })), { screen: 'article', draft });
});

test('the period is of UTC days, the last one included, up to now; quick ranges pick their bucket', () => {
  const now = Date.parse('2026-12-06T12:43:10.500Z');
  assert.deepEqual(period(blank, now), { from: '2026-11-30T00:00:00Z', to: '2026-12-06T12:43:10Z' }, 'the last 7 days');
  assert.deepEqual(period({ ...blank, from: '2026-11-01', to: '2026-11-30' }, now), { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' });
  assert.deepEqual(quick('24h', now), { from: '2026-12-05T12:00', to: '2026-12-06', bucket: 'hour' });
  assert.deepEqual(quick('30d', now), { from: '2026-11-07', to: '2026-12-06', bucket: 'day' });
  assert.equal(quick('90d', now).bucket, 'week');
  assert.equal(period({ ...blank, ...quick('24h', now) }, now).from, '2026-12-05T12:00:00Z');
  assert.equal(typedDay('2026-12-05', '2026-12-05T12:00'), '2026-12-05T12:00', 'the day unchanged keeps its hour');
  assert.equal(typedDay('2026-12-04', '2026-12-05T12:00'), '2026-12-04');
});

test('a series becomes uPlot columns: every bucket of the period, 0 counts where nothing happened, gaps for unset rates', () => {
  const day = (d) => Date.parse(`2026-11-0${d}T00:00:00Z`) / 1000;
  const frame = starts('2026-11-01T00:00:00Z', '2026-11-03T12:00:00Z', 'day');
  assert.deepEqual(frame, [day(1), day(2), day(3)]);
  const series = [
    { start: '2026-11-01T00:00:00Z', conversations: 4, escalated: 1, containment_rate: 0.5, first_response_seconds_p50: 90 },
    { start: '2026-11-03T00:00:00Z', conversations: 2, escalated: 0, containment_rate: null },
  ];
  const wanted = [
    { pick: (p) => p.conversations, empty: 0 },
    { pick: (p) => asPercent(p.containment_rate), empty: null },
    { pick: (p) => asMinutes(p.first_response_seconds_p50), empty: null },
  ];
  assert.deepEqual(columns(series, frame, wanted), [frame, [4, 0, 2], [50, null, null], [1.5, null, null]]);
  assert.deepEqual(columns([], [], wanted), [[], [], [], []]);
  const odd = [{ start: '2026-11-02T06:00:00Z', conversations: 1 }];
  assert.deepEqual(columns(odd, frame, wanted.slice(0, 1))[1], [0, 0, 1, 0], 'a bucket the frame lacks is kept');
  assert.equal(new Date(starts('2026-11-04T10:00:00Z', '2026-11-20T00:00:00Z', 'week')[0] * 1000).toISOString(), '2026-11-02T00:00:00.000Z', 'weeks start on Monday');
  assert.equal(starts('2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', 'hour').length, 24);
});

test('counts by key come as a list or an object, most first; hours of day fill 0 to 23', () => {
  assert.deepEqual(shares({ web: 2, email: 5 }), [{ key: 'email', count: 5 }, { key: 'web', count: 2 }]);
  assert.deepEqual(shares([{ key: 'b', count: 1 }, { key: 'a', count: 1 }]), [{ key: 'a', count: 1 }, { key: 'b', count: 1 }]);
  assert.deepEqual(shares(undefined), []);
  const hours = byHour([{ key: '00', count: 3 }, { key: '23', count: 1 }]);
  assert.equal(hours.length, 24);
  assert.deepEqual([hours[0], hours[1], hours[23]], [3, 0, 1]);
});
