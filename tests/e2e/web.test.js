// The bundled web client in a real browser: Debian's chromium driven by
// playwright-core, two or three users in separate browser contexts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, SHOTS } from './browser.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
import { startServer, makeTempDir, uniqueName, register, api } from './harness.js';

const T = { timeout: 90_000 };
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

/** A browser context for one person; `register` or log in through the UI. */
async function person(prefix, { name, viewport } = {}) {
  const username = name ?? uniqueName(prefix);
  const context = await browser.newContext({ viewport: viewport ?? { width: 1100, height: 720 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => { throw e; });
  await page.goto(url);
  return { username, context, page };
}

async function signUp(p) {
  await p.page.fill('input[name=username]', p.username);
  await p.page.fill('input[name=password]', PASSWORD);
  await p.page.click('#register');
  await p.page.waitForSelector('#chat:not([hidden])');
}

async function logIn(p) {
  await p.page.goto(url);
  await p.page.fill('input[name=username]', p.username);
  await p.page.fill('input[name=password]', PASSWORD);
  await p.page.click('#login');
  await p.page.waitForSelector('#chat:not([hidden])');
}

async function startChatWith(p, other) {
  await p.page.fill('#search', other.username);
  await p.page.click(`#search-results li:has-text("@${other.username}")`);
  await p.page.waitForSelector('#composer-form:not([hidden])');
}

async function say(p, text) {
  await p.page.fill('#composer', text);
  await p.page.press('#composer', 'Enter');
}

const bubble = (p, text) => p.page.locator('#messages .msg', { hasText: text });

async function openConversation(p, title) {
  await p.page.click(`#conversations li:has-text("${title}")`);
  await p.page.waitForSelector('#composer-form:not([hidden])');
}

test('the bundled socket.io client is the official npm bundle', () => {
  const vendored = readFileSync(path.join(HERE, '..', '..', 'web', 'vendor', 'socket.io.min.js'));
  const npm = readFileSync(path.join(HERE, 'node_modules', 'socket.io-client', 'dist', 'socket.io.min.js'));
  assert.ok(vendored.equals(npm), 'web/vendor/socket.io.min.js must be a copy of socket.io-client/dist/socket.io.min.js');
});

test('two people chat both ways; ticks go sent → delivered → read; an offline user sees unread badges', T, async () => {
  const ana = await person('ana');
  const bob = await person('bob');
  await signUp(ana);
  await signUp(bob);
  await bob.context.close(); // bob goes offline

  await startChatWith(ana, bob);
  await say(ana, 'Hello Bob');
  await say(ana, 'Are you there?');
  const last = bubble(ana, 'Are you there?');
  await last.locator('.tick[data-status=sent]').waitFor();

  // Bob logs in later: the unread badge, then the messages; ana's ticks follow.
  bob.context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  bob.page = await bob.context.newPage();
  await logIn(bob);
  const row = bob.page.locator('#conversations li', { hasText: ana.username });
  await row.locator('.badge', { hasText: '2' }).waitFor();
  await last.locator('.tick[data-status=delivered]').waitFor();
  await ana.page.screenshot({ path: path.join(SHOTS, 'conversation-delivered.png') });
  await bob.page.screenshot({ path: path.join(SHOTS, 'conversation-list-unread.png') });
  await row.click();
  await bubble(bob, 'Hello Bob').waitFor();
  await bubble(bob, 'Are you there?').waitFor();
  await last.locator('.tick[data-status=read]').waitFor();
  await row.locator('.badge').waitFor({ state: 'detached' });

  // And back, in real time; typing shows on the other side.
  await bob.page.type('#composer', 'Hi Ana');
  await ana.page.locator('#typing', { hasText: 'is typing' }).waitFor();
  await bob.page.press('#composer', 'Enter');
  await bubble(ana, 'Hi Ana').waitFor();
  await ana.page.locator('#conv-status', { hasText: 'online' }).waitFor();
  await ana.page.screenshot({ path: path.join(SHOTS, 'conversation.png') });
  await ana.context.close();
  await bob.context.close();
});

test('a group of three', T, async () => {
  const [ana, bob, cyd] = [await person('ana'), await person('bob'), await person('cyd')];
  for (const p of [ana, bob, cyd]) await signUp(p);
  await ana.page.click('#new-group');
  await ana.page.fill('#group-name', 'Trio');
  await ana.page.fill('#group-members', `${bob.username}, ${cyd.username}`);
  await ana.page.click('#group-create');
  await ana.page.waitForSelector('#composer-form:not([hidden])');
  await say(ana, 'Welcome to the trio');
  for (const p of [bob, cyd]) {
    await p.page.locator('#conversations li', { hasText: 'Trio' }).waitFor();
    await openConversation(p, 'Trio');
    await bubble(p, 'Welcome to the trio').waitFor();
  }
  await say(bob, 'Thanks!');
  await bubble(ana, 'Thanks!').waitFor();
  await bubble(cyd, 'Thanks!').locator('.who').waitFor();
  // Everyone has read ana's message: read by 2 of 2.
  await bubble(ana, 'Welcome to the trio').locator('.tick[data-status=read][title="read by 2 of 2"]').waitFor();
  await ana.page.click('#members-toggle');
  assert.equal(await ana.page.locator('#members li[data-user-id]').count(), 3);
  await ana.page.screenshot({ path: path.join(SHOTS, 'group.png') });
  // The owner removes cyd: cyd's list loses the group, the others see the note.
  await ana.page.locator('#members li', { hasText: cyd.username }).locator('button', { hasText: 'Remove' }).click();
  await bubble(bob, 'removed').waitFor();
  await cyd.page.locator('#conversations li', { hasText: 'Trio' }).waitFor({ state: 'detached' });
  // ana's member list is redrawn when the change reaches her; wait for that, then count.
  await ana.page.locator('#members li', { hasText: cyd.username }).waitFor({ state: 'detached' });
  assert.equal(await ana.page.locator('#members li[data-user-id]').count(), 2);
  for (const p of [ana, bob, cyd]) await p.context.close();
});

test('message text is always text: HTML and scripts are not run, links are safe', T, async () => {
  const ana = await person('ana');
  const bob = await person('bob');
  await signUp(ana);
  await signUp(bob);
  await startChatWith(ana, bob);
  const payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> see https://example.com/a?b=1 and javascript:alert(1)';
  await say(ana, payload);
  await openConversation(bob, ana.username);
  const msg = bubble(bob, 'window.__xss');
  await msg.waitFor();
  assert.equal(await msg.locator('.text').textContent(), payload, 'rendered exactly as typed');
  assert.equal(await msg.locator('img, script').count(), 0);
  assert.equal(await bob.page.evaluate(() => window.__xss), undefined);
  const links = msg.locator('a');
  assert.equal(await links.count(), 1, 'only the http(s) URL is a link');
  assert.equal(await links.first().getAttribute('href'), 'https://example.com/a?b=1');
  assert.match(await links.first().getAttribute('rel'), /noopener/);
  await ana.context.close();
  await bob.context.close();
});

test('after a server restart the client reconnects, resyncs, and shows nothing twice', T, async () => {
  const dataDir = makeTempDir();
  const first = await startServer({ dataDir });
  const local = first.url;
  const port = new URL(local).port;
  const mk = async (prefix) => {
    const p = { username: uniqueName(prefix) };
    p.context = await browser.newContext();
    p.page = await p.context.newPage();
    await p.page.goto(local);
    return p;
  };
  const ana = await mk('ana');
  const bob = await mk('bob');
  await signUp(ana);
  await signUp(bob);
  await startChatWith(ana, bob);
  await say(ana, 'before the restart');
  await openConversation(bob, ana.username);
  await bubble(bob, 'before the restart').waitFor();

  await first.stop();
  await ana.page.locator('#banner:not([hidden])').waitFor();
  // Sent while the server is down: kept and sent once it is back.
  await say(ana, 'sent while offline');
  const second = await startServer({ dataDir, listen: `127.0.0.1:${port}` });
  try {
    await ana.page.locator('#banner').waitFor({ state: 'hidden', timeout: 20_000 });
    await bubble(bob, 'sent while offline').waitFor({ timeout: 20_000 });
    await bubble(ana, 'sent while offline').locator('.tick[data-status]').waitFor();
    await say(bob, 'after the restart');
    await bubble(ana, 'after the restart').waitFor();
    for (const p of [ana, bob]) {
      for (const text of ['before the restart', 'sent while offline', 'after the restart']) {
        assert.equal(await bubble(p, text).count(), 1, `${p.username} sees "${text}" once`);
      }
    }
  } finally {
    await ana.context.close();
    await bob.context.close();
    await second.stop();
  }
});

test('attachments: picked, uploaded with progress, shown as previews on both sides', T, async () => {
  const ana = await person('ana');
  const bob = await person('bob');
  await signUp(ana);
  await signUp(bob);
  await startChatWith(ana, bob);
  // A real 1×1 PNG and a small text file.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
  await ana.page.setInputFiles('#file', [
    { name: 'dot.png', mimeType: 'image/png', buffer: png },
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('some notes') },
  ]);
  await ana.page.locator('#pending-files .chip', { hasText: 'dot.png' }).locator('text=✓').waitFor();
  await ana.page.locator('#pending-files .chip', { hasText: 'notes.txt' }).locator('text=✓').waitFor();
  await say(ana, 'two files');
  const mine = bubble(ana, 'two files');
  await mine.locator('img.thumb').waitFor();
  await openConversation(bob, ana.username);
  const theirs = bubble(bob, 'two files');
  await theirs.locator('.chip', { hasText: 'notes.txt' }).waitFor();
  const img = theirs.locator('img.thumb');
  await img.waitFor();
  await bob.page.waitForFunction(() => {
    const i = document.querySelector('#messages img.thumb');
    return i && i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:');
  });
  await ana.context.close();
  await bob.context.close();
});

test('a long conversation list shows its first page, then loads more on demand', T, async () => {
  const vera = await person('vera');
  const { user } = await register(url, vera.username, PASSWORD);
  const spammer = await register(url, uniqueName('spam'), PASSWORD);
  for (let i = 0; i < 103; i++) {
    const res = await api(url, 'POST', '/api/conversations', {
      token: spammer.token, body: { type: 'group', name: `group ${i}`, memberIds: [user.id] },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  await logIn(vera);
  const rows = vera.page.locator('#conversations li');
  await vera.page.locator('#more-conversations:not([hidden])').waitFor();
  assert.equal(await rows.count(), 100, 'the first page is 100 conversations');
  await vera.page.click('#more-conversations');
  await vera.page.locator('#more-conversations[hidden]').waitFor({ state: 'attached' });
  assert.equal(await rows.count(), 103);
  // The oldest group, from the second page, opens like any other.
  await openConversation(vera, 'group 0');
  await vera.page.locator('#conv-title', { hasText: 'group 0' }).waitFor();
  await vera.context.close();
});

test('a phone-sized screen shows the list, then the conversation', T, async () => {
  const ana = await person('ana', { viewport: { width: 390, height: 780 } });
  await signUp(ana);
  const bob = await register(url, uniqueName('bob'), PASSWORD);
  const anaId = (await api(url, 'POST', '/api/auth/login', { body: { username: ana.username, password: PASSWORD } })).body.user.id;
  const sent = await api(url, 'POST', '/api/messages', { token: bob.token, body: { receiverId: anaId, message: 'hi from a phone test' } });
  assert.equal(sent.status, 201);
  const row = ana.page.locator('#conversations li', { hasText: bob.user.username });
  await row.waitFor();
  assert.equal(await ana.page.locator('#conversation').isVisible(), false, 'list first');
  await ana.page.screenshot({ path: path.join(SHOTS, 'mobile-list.png') });
  await row.click();
  await bubble(ana, 'hi from a phone test').waitFor();
  assert.equal(await ana.page.locator('#sidebar').isVisible(), false, 'then the conversation alone');
  await ana.page.click('#back');
  await row.waitFor();
  await ana.context.close();
});

test('under its CSP the page talks to its own origin over WebSocket, and nowhere else', T, async () => {
  const ana = await person('csp');
  const bob = await person('csp');
  for (const p of [ana, bob]) {
    // Every CSP violation the page reports, kept where the test can read it.
    await p.page.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
  }
  const sockets = [];
  ana.page.on('websocket', (ws) => sockets.push(ws.url()));
  await ana.page.goto(url);
  await bob.page.goto(url);
  await signUp(ana);
  await signUp(bob);
  const csp = (await ana.page.request.get(url)).headers()['content-security-policy'];
  assert.match(csp, /connect-src 'self';/);

  // socket.io-client upgrades to WebSocket, to this origin, and messages flow.
  await startChatWith(ana, bob);
  await say(ana, 'over a websocket');
  // Delivered: bob's page received it live and acknowledged it.
  await bubble(ana, 'over a websocket').locator('.tick[data-status=delivered]').waitFor();
  const own = new URL(url);
  assert.ok(
    sockets.some((s) => { const u = new URL(s); return u.host === own.host && u.pathname.startsWith('/socket.io/'); }),
    `a WebSocket to ${own.host}: ${JSON.stringify(sockets)}`,
  );
  assert.deepEqual(await ana.page.evaluate(() => window.__violations), []);

  // A connection anywhere else (here: another port on this machine) is blocked by the browser.
  await ana.page.evaluate(() => {
    try { new WebSocket('ws://127.0.0.1:9/elsewhere'); } catch { /* blocked synchronously */ }
  });
  await ana.page.waitForFunction(() => window.__violations.length > 0);
  const violations = await ana.page.evaluate(() => window.__violations);
  assert.ok(violations.some((v) => v.startsWith('connect-src')), JSON.stringify(violations));
  await ana.context.close();
  await bob.context.close();
});
