// Drives the agent console (/console) and the chat widget's demo page in headless Chromium
// (Debian's, through playwright-core) for tests/tests/console.rs.
// Usage: node console.cjs SCENARIO BASE_URL, with SWITCHBOARD_CONSOLE_TEST (JSON: agents and
// their passwords, the conversation or the macro) and SWITCHBOARD_SCREENSHOTS (a directory).
// It reports on stdout, one line per step, and waits for a line on stdin where the test acts.
// On stderr: the pages' errors and refused requests; every request too with
// SWITCHBOARD_CONSOLE_REQUESTS=1 (to see what a page asks for, and how often).
'use strict';
const { chromium } = require('playwright-core');
const path = require('node:path');
const readline = require('node:readline');

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async () => (await lines.next()).value;
const say = (line) => console.log(line);
const [scenario, base] = process.argv.slice(2);
const given = JSON.parse(process.env.SWITCHBOARD_CONSOLE_TEST || '{}');
const pages = [];

async function shot(page, name) {
  const dir = process.env.SWITCHBOARD_SCREENSHOTS;
  if (dir) await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

async function open(browser, locale) {
  const context = await browser.newContext({ locale, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  // What the pages themselves report, for a failure's diagnosis (stderr: the test shows it).
  page.on('pageerror', (error) => console.error(`page error (${locale}): ${error.message}`));
  page.on('console', (message) => message.type() === 'error' && console.error(`page console (${locale}): ${message.text()}`));
  page.on('response', (response) => response.status() >= 400 && console.error(`page response (${locale}): ${response.status()} ${response.request().method()} ${response.url()}`));
  page.on('request', (request) => process.env.SWITCHBOARD_CONSOLE_REQUESTS && console.error(`page request (${locale}) ${Date.now()}: ${request.method()} ${request.url()}`));
  pages.push(page);
  return page;
}

/** Signs `agent` in on a fresh console page; the browser's language picks the console's. */
async function signIn(browser, agent) {
  const page = await open(browser, agent.locale);
  await page.goto(`${base}/console`);
  await page.fill('input[name=tenant]', 'default');
  await page.fill('input[name=subject]', agent.login ?? agent.id); // an email, or the agent ID
  await page.fill('input[name=password]', agent.password);
  await page.press('input[name=password]', 'Enter');
  await page.waitForSelector('header.top .who');
  return page;
}

// Two agents claim one conversation at once: one has it, the other is told who does.
async function race(browser) {
  const [ana, bob] = given.agents;
  const [first, second] = await Promise.all([signIn(browser, ana), signIn(browser, bob)]);
  say(`LANGUAGES ${await first.locator('html').getAttribute('lang')} ${await second.locator('html').getAttribute('lang')}`);
  const target = `${base}/console/#/inbox/unassigned/${given.conversation}`;
  await Promise.all([first.goto(target), second.goto(target)]);
  await Promise.all([first, second].map((page) => page.waitForSelector('[data-action=claim]')));
  await Promise.all([first, second].map((page) => page.evaluate(() => {
    window.redraws = [];
    const place = document.querySelector('#conversation');
    new MutationObserver((changes) => {
      for (const change of changes) window.redraws.push({ t: Math.round(performance.now()), kind: change.type, drawn: place.dataset.drawn });
    }).observe(place, { attributes: true, attributeFilter: ['data-drawn'], childList: true });
  })));
  // Both clicks at once, each in its page the moment it arrives: a click through the driver waits
  // for the button to hold still, and a redraw from the other agent's claim could come first.
  const clicked = await Promise.all([first, second].map((page) => page.evaluate(() => {
    const button = document.querySelector('[data-action=claim]');
    button?.click();
    return button !== null;
  })));
  if (!clicked.every(Boolean)) throw new Error(`a claim button was gone before the click: ${clicked}`);
  for (const [page, agent] of [[first, ana], [second, bob]]) {
    await page.waitForSelector(`.conversation-header[data-assignee="${agent.id}"], [data-refusal]`);
    const refusal = page.locator('[data-refusal]');
    if (await refusal.count()) say(`REFUSED ${agent.id} ${JSON.stringify(await refusal.textContent())}`);
    else say(`HOLDS ${agent.id}`);
    await shot(page, `race-${agent.id}`);
  }
}

// A supervisor writes a macro in two languages.
async function writeMacro(browser, supervisor) {
  const page = await signIn(browser, supervisor);
  await page.click('a.tab[href="#/macros"]');
  await page.fill('input[name=macro_id]', given.macro);
  await page.fill('input[name=name]', 'Order on its way');
  await page.locator('.macro-text textarea').first().fill(given.texts.en);
  await page.click('[data-action=add-text]');
  const chinese = page.locator('.macro-text').nth(1);
  await chinese.locator('input[name=locale]').fill('zh-Hant');
  await chinese.locator('textarea').fill(given.texts['zh-Hant']);
  await page.click('[data-action=save-macro]');
  await page.waitForSelector(`li[data-macro="${given.macro}"]`);
  await shot(page, 'handoff-macro');
  say('MACRO-SAVED');
}

// A customer chats and asks for a person; an agent, signed in already, sees it arrive, claims
// it, reads the packet, answers with the macro, sees the customer's answer live and resolves.
async function handoff(browser) {
  const [ana, sam] = given.agents;
  await writeMacro(browser, sam);
  const console_ = await signIn(browser, ana);
  await console_.click('a.view[data-view=unassigned]');
  say(`SIGNED-IN ${await console_.locator('[data-action=sign-out]').textContent()}`);
  const widget = await open(browser, 'zh-TW');
  await widget.goto(`${base}/chat/demo`);
  await widget.waitForSelector('.sb-chat[data-connected=true]');
  await widget.fill('.sb-input', given.ask);
  await widget.press('.sb-input', 'Enter');
  await widget.waitForSelector('.sb-system');
  const conversation = await widget.evaluate(() => JSON.parse(localStorage.getItem('switchboard-chat:demo')).conversation);
  say(`HANDOFF ${conversation}`);

  const row = `li.row[data-id="${conversation}"]`;
  await console_.waitForSelector(row);
  await shot(console_, 'handoff-inbox');
  await console_.locator('body').press('j'); // the next conversation: the only one waiting
  await console_.waitForSelector(`${row}.selected`);
  await console_.locator('body').press('c'); // claim
  await console_.waitForSelector(`.conversation-header[data-assignee="${ana.id}"]`);
  const packet = await console_.locator('[data-panel=handoff]').textContent();
  say(`PACKET ${JSON.stringify(packet)}`);

  await console_.selectOption('select[name=macro]', given.macro);
  say(`MACRO ${JSON.stringify(await console_.locator('.macro-preview').textContent())}`);
  await console_.click('[data-action=apply-macro]');
  await widget.waitForSelector(`.sb-message[data-author=agent]:has-text(${JSON.stringify(given.reply)})`);
  say('REPLIED');

  // Typing shows both ways: the customer's in the console, the agent's in the chat.
  // (The widget tells typing at most every two seconds; the customer's first message was typed
  // just before.)
  await widget.waitForTimeout(2500);
  await widget.fill('.sb-input', given.thanks);
  await console_.waitForSelector('p.typing[data-typing=customer]');
  say(`CUSTOMER-TYPING ${JSON.stringify(await console_.locator('p.typing').textContent())}`);
  await console_.fill('textarea[name=reply]', '…');
  await widget.waitForSelector('.sb-typing[data-author=agent]');
  say('AGENT-TYPING');
  await console_.fill('textarea[name=reply]', '');
  await console_.press('textarea[name=reply]', 'Escape'); // out of the box: shortcuts work again
  await widget.press('.sb-input', 'Enter');
  await console_.waitForSelector(`.entry[data-kind=customer]:has-text(${JSON.stringify(given.thanks)})`);
  say('LIVE');
  await shot(console_, 'handoff-conversation');

  await console_.locator('body').press('e'); // the shortcut for resolve
  await console_.waitForSelector('.conversation-header[data-status=resolved]');
  say('RESOLVED');
  await shot(console_, 'handoff-resolved');
  await next();
  await widget.waitForSelector('.sb-message:has-text("http")');
  await shot(widget, 'handoff-widget');
  const shown = await widget.locator('.sb-message').evaluateAll((all) => all.map((m) => m.getAttribute('data-author') + ': ' + m.textContent));
  say(`WIDGET ${JSON.stringify(shown)}`);
}

// A supervisor's view: an agent signs in (and so comes online); the supervisor sees the queue
// waiting, the agent with their presence and load, the return waiting for approval; assigns the
// conversation to the agent from its transfer form, and approves the return; the agent signs out
// (and so goes offline).
async function supervise(browser) {
  const [ana, sam] = given.agents;
  const agent = await signIn(browser, ana);
  const page = await signIn(browser, sam);
  await page.click('a.tab[href="#/supervisor"]');
  const queueRow = page.locator('.supervisor tr', { hasText: given.queue });
  await queueRow.first().waitFor();
  say(`QUEUE ${JSON.stringify(await queueRow.first().innerText())}`);
  const agentRow = page.locator('.supervisor tr', { hasText: ana.id });
  await agentRow.first().waitFor();
  say(`AGENT ${JSON.stringify(await agentRow.first().innerText())}`);
  const approval = page.locator(`li[data-approval="${given.approval}"]`);
  await approval.waitFor();
  say(`APPROVAL ${JSON.stringify(await approval.innerText())}`);
  await shot(page, 'supervise-overview');

  await page.goto(`${base}/console/#/inbox/all/${given.conversation}`);
  await page.click('[data-action=transfer]');
  await page.fill('form.transfer input[name=agent_id]', ana.id);
  await page.click('form.transfer [data-action=assign]');
  await page.waitForSelector(`.conversation-header[data-assignee="${ana.id}"]`);
  say('ASSIGNED');

  // An internal note, then a suggested article's passage into the reply with one click.
  await page.click('.composer [data-tab=note]');
  await page.fill('textarea[name=reply]', given.note);
  await page.click('.composer [data-action=send]');
  await page.waitForSelector(`.entry[data-kind=note]:has-text(${JSON.stringify(given.note)})`);
  say('NOTED');
  await page.click(`[data-article="${given.article}"] [data-insert=passage]`);
  say(`INSERTED ${JSON.stringify(await page.inputValue('textarea[name=reply]'))}`);
  await shot(page, 'supervise-assigned');

  await page.click('a.tab[href="#/supervisor"]');
  await page.locator(`li[data-approval="${given.approval}"] button.primary`).click();
  await page.waitForSelector(`li[data-approval="${given.approval}"]`, { state: 'detached' });
  say('APPROVED');
  await shot(page, 'supervise-approved');

  await agent.click('[data-action=sign-out]');
  await agent.waitForSelector('input[name=password]');
  for (let tries = 0; ; tries += 1) {
    await page.reload(); // the overview as it is now (the session survives a reload)
    const row = page.locator('.supervisor tr', { hasText: ana.id }).first();
    await row.waitFor();
    const text = await row.innerText();
    if (text.includes('Offline')) {
      say(`SIGNED-OUT ${JSON.stringify(text)}`);
      break;
    }
    // Her going offline reaches the overview through the desk's projection; a reload asks for
    // the overview's figures again, so the pace stays under the listener's per-client rate.
    if (tries > 50) throw new Error(`ana is still ${text}`);
    await page.waitForTimeout(500);
  }
}

// A supervisor's dashboard: the period's headline figures and charts, an intent spiking, a question
// nothing answered; narrowed to 30 days of web chat; read in Chinese; then the missing article
// written from that question and published.
async function dashboard(browser) {
  const [supervisor] = given.agents;
  const page = await signIn(browser, supervisor);
  await page.click('a.tab[href^="#/dashboard"]');
  const loaded = async () => {
    await page.waitForSelector('[data-figure=conversations]');
    await page.waitForSelector('figure[data-chart=volume] canvas');
  };
  await loaded();
  const figures = () => page.locator('[data-figure]').evaluateAll((tiles) => Object.fromEntries(tiles.map((tile) => [tile.dataset.figure, tile.innerText])));
  say(`FIGURES ${JSON.stringify(await figures())}`);
  const charts = await page.locator('figure[data-chart]').evaluateAll((all) => all.filter((chart) => chart.querySelector('canvas')).map((chart) => chart.dataset.chart));
  say(`CHARTS ${JSON.stringify(charts)}`);
  const spike = page.locator(`tr.spike[data-intent=${JSON.stringify(given.intent)}]`);
  const gap = page.locator(`li[data-gap=${JSON.stringify(given.gap)}]`);
  await spike.waitFor();
  say(`SPIKE ${JSON.stringify(await spike.innerText())}`);
  await gap.waitFor();
  say(`GAP ${JSON.stringify(await gap.innerText())}`);
  await shot(page, 'dashboard-en');

  // The filters go into the fragment; the figures shown are those of the fragment once reloaded.
  await page.selectOption('select[name=channel]', 'web');
  await page.click('[data-range="30d"]');
  await page.waitForFunction(() => location.hash.includes('channel=web') && document.querySelector('.tiles')?.dataset.report === location.hash);
  await loaded();
  say(`FILTERED ${await page.evaluate(() => location.hash)}`);

  await page.click('[data-action=language]');
  await page.waitForSelector('html[lang=zh-Hant]');
  await loaded();
  await Promise.all([spike.waitFor(), gap.waitFor()]);
  await shot(page, 'dashboard-zh-TW');
  say(`ZH ${JSON.stringify(await page.locator('[data-figure=conversations] .label').innerText())}`);

  await gap.locator('a[data-action=write-article]').click();
  await page.waitForSelector('form.article-editor');
  await page.fill('textarea[name=body]', 'Test body');
  await page.fill('input[name=title]', given.article_title);
  await page.click('form.article-editor [data-action=publish]');
  const notice = page.locator('.notice', { hasText: given.article_title });
  await notice.waitFor();
  say(`PUBLISHED ${JSON.stringify(await notice.locator('span').innerText())}`);
  await shot(page, 'dashboard-published');
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.SWITCHBOARD_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await { race, handoff, supervise, dashboard }[scenario](browser);
    say('DONE');
  } catch (error) {
    for (const [i, page] of pages.entries()) {
      console.error(`page ${i} (${page.url()}):`, await page.locator('body').innerText().catch(() => '(none)'));
      console.error(`page ${i} redraws:`, await page.evaluate(() => JSON.stringify(window.redraws ?? []).slice(-6000)).catch(() => '(none)'));
      await shot(page, `failed-${scenario}-${i}`).catch(() => {});
    }
    throw error;
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
