// Drives the web chat demo page in headless Chromium (Debian's, through playwright-core) for
// tests/tests/chat.rs. Usage: node chat.cjs URL. It reports on stdout, one line per step, and
// waits for a line on stdin where the test has to act (agent typing, agent reply).
'use strict';
const { chromium } = require('playwright-core');
const readline = require('node:readline');

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async () => (await lines.next()).value;
const say = (line) => console.log(line);

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.SWITCHBOARD_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  try {
    page.setDefaultTimeout(60000);
    await page.goto(process.argv[2]);
    await page.waitForSelector('.sb-chat[data-connected=true]');

    // Articles are suggested while the customer types.
    await page.fill('.sb-input', 'Where is my ord');
    await page.waitForSelector('.sb-suggestion:has-text("Tracking your order")');
    say('SUGGESTED');

    // Two messages at once, before the chat has a conversation: still one conversation.
    await page.fill('.sb-input', '');
    await page.evaluate(() => { window.switchboardChat.send('How can I track my order?'); window.switchboardChat.send('Where is my order?'); });
    await page.waitForSelector('.sb-message[data-author=customer]:has-text("Where is my order?")');
    const answer = await page.locator('.sb-message[data-author=bot]').first().textContent();
    say('ANSWER ' + JSON.stringify(answer));

    await page.fill('.sb-input', 'I want to talk to a person');
    await page.press('.sb-input', 'Enter');
    await page.waitForSelector('.sb-system:has-text("A person from our team")');
    const conversation = await page.evaluate(() => JSON.parse(localStorage.getItem('switchboard-chat:demo')).conversation);
    say('HANDOFF ' + conversation);

    await next();
    await page.waitForSelector('.sb-typing[data-author=agent]');
    say('TYPING');

    // Offline while the agent answers; the answer must be there after reconnecting.
    await page.evaluate(() => window.switchboardChat.pause());
    await page.waitForSelector('.sb-chat[data-connected=false]');
    say('PAUSED');
    await next();
    await page.evaluate(() => window.switchboardChat.resume());
    await page.waitForSelector('.sb-message[data-author=agent]:has-text("Hi, I am Ana")');
    const shown = await page.locator('.sb-message').evaluateAll((all) => all.map((m) => m.getAttribute('data-author') + ': ' + m.textContent));
    say('MESSAGES ' + JSON.stringify(shown));
    if (process.env.SWITCHBOARD_SCREENSHOT) await page.screenshot({ path: process.env.SWITCHBOARD_SCREENSHOT });

    // Another visitor, on a German page, asks for a person in Chinese: the widget speaks the
    // page's German until the customer writes, then Chinese, and the hand-off notice is Chinese.
    const visitor = await (await browser.newContext()).newPage();
    visitor.on('pageerror', (error) => console.error('visitor page error:', error));
    await visitor.goto(process.argv[2] + '?lang=de');
    await visitor.waitForSelector('.sb-chat[data-connected=true]');
    const labels = () => visitor.evaluate(() => ({
      title: document.querySelector('.sb-title').textContent,
      placeholder: document.querySelector('.sb-input').placeholder,
      send: document.querySelector('.sb-send').textContent,
      dir: document.querySelector('.sb-chat').getAttribute('dir'),
    }));
    say('PAGE LABELS ' + JSON.stringify(await labels()));
    await visitor.fill('.sb-input', '我想找真人客服');
    await visitor.press('.sb-input', 'Enter');
    const notice = await visitor.locator('.sb-system').first();
    await notice.waitFor();
    say('CHINESE HANDOFF ' + JSON.stringify(await notice.textContent()));
    say('CUSTOMER LABELS ' + JSON.stringify(await labels()));
    say('DONE');
  } catch (error) {
    console.error('chat as shown:', await page.locator('.sb-chat').textContent().catch(() => '(none)'));
    throw error;
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
