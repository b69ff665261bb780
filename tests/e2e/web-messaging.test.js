// The web client's message actions in Chromium (#17): reply with a quote
// that scrolls to the original, reaction chips that toggle, edit with the
// "edited" marker, delete with its placeholder, message search that opens
// the conversation at the message, block/unblock on a person's header —
// with the keyboard where a mouse is not needed. Screenshots go to
// SCREENSHOT_DIR (docs/screenshots when refreshed).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launchBrowser, SHOTS } from './browser.js';
import { startServer, makeTempDir, uniqueName, api } from './harness.js';

const T = { timeout: 120_000 };
const PASSWORD = 'correct horse battery';

let server;
let url;
let browser;

before(async () => {
  server = await startServer({ dataDir: makeTempDir() });
  url = server.url;
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function person(prefix) {
  const username = uniqueName(prefix);
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  page.on('dialog', (d) => d.accept());
  await page.goto(url);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('#register');
  await page.waitForSelector('#chat:not([hidden])');
  const token = await page.evaluate(() => localStorage.getItem('confab.token'));
  return { username, context, page, token };
}

async function say(p, text) {
  await p.page.fill('#composer', text);
  await p.page.press('#composer', 'Enter');
}

const bubble = (p, text) => p.page.locator('#messages .msg').filter({ has: p.page.locator('.text', { hasText: text }) });

test('reply, react, edit, delete, search and block in the browser', T, async () => {
  const ana = await person('wana');
  const bob = await person('wbob');
  // Ana starts a conversation with Bob.
  await ana.page.fill('#search', bob.username);
  await ana.page.click(`#search-results li:has-text("@${bob.username}")`);
  await say(ana, 'Lunch at the Café Flore tomorrow?');
  for (let i = 1; i <= 3; i++) await say(ana, `filler message ${i}`);
  await bubble(ana, 'filler message 3').locator('.tick').waitFor();
  await bob.page.click('#conversations li');
  await bubble(bob, 'Café Flore').waitFor();

  // Bob replies to the first message through its actions, with the keyboard.
  const first = bubble(bob, 'Café Flore');
  await first.focus();
  await first.locator('[data-action=reply]').focus();
  await bob.page.keyboard.press('Enter');
  await bob.page.waitForSelector('#composer-state:not([hidden])');
  await say(bob, 'Yes! Noon?');
  const reply = bubble(ana, 'Yes! Noon?');
  await reply.locator('.quote', { hasText: 'Café Flore' }).waitFor();

  // Clicking the quote scrolls to (and highlights) the quoted message.
  await ana.page.locator('#messages').evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await reply.locator('.quote').click();
  await ana.page.locator('#messages .msg.highlight .text', { hasText: 'Café Flore' }).waitFor();

  // Reactions: Bob reacts through the picker; Ana sees the chip and toggles hers.
  await bubble(bob, 'Café Flore').hover();
  await bubble(bob, 'Café Flore').locator('[data-action=react]').click();
  await bubble(bob, 'Café Flore').locator('.picker button[data-emoji="👍"]').click();
  const chip = bubble(ana, 'Café Flore').locator('.reaction[data-emoji="👍"]');
  await chip.filter({ hasText: '👍 1' }).waitFor();
  await chip.click();
  await chip.filter({ hasText: '👍 2' }).waitFor();
  assert.equal(await chip.getAttribute('aria-pressed'), 'true');
  await bubble(bob, 'Café Flore').locator('.reaction[data-emoji="👍"]', { hasText: '👍 2' }).waitFor();

  // Ana edits a message: Bob sees the new text and the "edited" marker.
  await bubble(ana, 'filler message 2').hover();
  await bubble(ana, 'filler message 2').locator('[data-action=edit]').click();
  await ana.page.fill('#composer', 'filler message two (fixed)');
  await ana.page.press('#composer', 'Enter');
  await bubble(bob, 'filler message two (fixed)').locator('.edited').waitFor();
  await ana.page.screenshot({ path: path.join(SHOTS, 'messaging-reply-reactions-edited.png') });

  // Ana deletes one: both see the placeholder.
  await bubble(ana, 'filler message 1').hover();
  await bubble(ana, 'filler message 1').locator('[data-action=delete]').click();
  await ana.page.locator('#messages .msg.deleted', { hasText: 'This message was deleted' }).waitFor();
  await bob.page.locator('#messages .msg.deleted', { hasText: 'This message was deleted' }).waitFor();
  assert.equal(await bubble(bob, 'filler message 1').count(), 0);
  await bob.page.screenshot({ path: path.join(SHOTS, 'messaging-deleted.png') });

  // Message search: accents and case folded; the result opens the conversation at it.
  await bob.page.goto(url);
  await bob.page.waitForSelector('#chat:not([hidden])');
  await bob.page.fill('#message-search', 'cafe flo');
  const result = bob.page.locator('#message-results li', { hasText: 'Café Flore' });
  await result.waitFor();
  await bob.page.screenshot({ path: path.join(SHOTS, 'messaging-search.png') });
  await result.focus();
  await bob.page.keyboard.press('Enter');
  await bob.page.locator('#messages .msg.highlight .text', { hasText: 'Café Flore' }).waitFor();

  // Block from the person's header: Ana's messages are refused until unblocked.
  await bob.page.click('#block-toggle');
  await bob.page.waitForSelector('#blocked-note:not([hidden])');
  assert.equal(await bob.page.textContent('#block-toggle'), 'Unblock');
  const refused = await api(url, 'POST', '/api/messages', { token: ana.token, body: { receiverId: (await api(url, 'GET', '/api/users/me', { token: bob.token })).body.user.id, message: 'hello?' } });
  assert.equal(refused.status, 403);
  await bob.page.screenshot({ path: path.join(SHOTS, 'messaging-blocked.png') });
  await bob.page.click('#block-toggle');
  await bob.page.waitForSelector('#blocked-note', { state: 'hidden' });
  assert.equal(await bob.page.textContent('#block-toggle'), 'Block');
  await say(ana, 'unblocked now');
  await bubble(bob, 'unblocked now').waitFor();

  await ana.context.close();
  await bob.context.close();
});
