// The console's logic that needs no browser, on Node's own test runner against the compiled
// modules (dist/js). Run by `npm test`, and by `cargo test -p switchboard-console`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { compare, belongs, filters, upsert } from '../dist/js/rows.js';
import { frames } from '../dist/js/live.js';
import { parse, href } from '../dist/js/route.js';
import { pick, t, setLocale } from '../dist/js/i18n.js';
import { en, zhHant } from '../dist/js/strings.js';
import { macroText } from '../dist/js/composer.js';
import { relative } from '../dist/js/format.js';
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
