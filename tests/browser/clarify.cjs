// Drives the web chat demo page in headless Chromium (Debian's, through playwright-core) for
// tests/tests/clarify.rs: the bot asks which article the customer means, with quick replies; a
// tap on one answers from that article and clears the buttons. Usage: node clarify.cjs URL. It
// reports on stdout, one line per step.
'use strict';
const { chromium } = require('playwright-core');

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
    await page.fill('.sb-input', 'I have a problem with my password');
    await page.press('.sb-input', 'Enter');
    await page.waitForSelector('.sb-option');
    const options = await page.locator('.sb-option').allTextContents();
    say('OPTIONS ' + JSON.stringify(options));
    await page.click('.sb-option:has-text("Recover a forgotten password")');
    await page.waitForSelector('.sb-message[data-author=bot]:has-text("Forgot password")');
    say('ANSWER ' + JSON.stringify(await page.locator('.sb-message[data-author=bot]').last().textContent()));
    say('BUTTONS LEFT ' + (await page.locator('.sb-option').count()));
    const sent = await page.locator('.sb-message[data-author=customer]').allTextContents();
    say('SENT ' + JSON.stringify(sent));
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
