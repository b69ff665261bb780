// Web Push against an independent push service: `web-push-testing` (http_ece
// + jsonwebtoken) plays the browser's push service. It checks the VAPID JWT
// against the applicationServerKey the "browser" subscribed with and
// decrypts the aes128gcm payload with the subscription's own keys.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import {
  startServer, newUser, connect, closeAllSockets, emitAck, api, eventually, sleep, uniqueId,
} from './harness.js';

const require = createRequire(import.meta.url);
const WebPushTestingServer = require('web-push-testing/src/server.js');
const { PushApiModel } = require('web-push-testing/src/PushApiModel.js');

let server;
let url;
let push; // the push service's base URL

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  const port = await freePort();
  const service = new WebPushTestingServer(new PushApiModel(), port);
  service.startServer();
  push = `http://localhost:${port}`;
  await eventually(async () => (await fetch(`${push}/status`, { method: 'POST' })).ok, { what: 'push service up' });
  server = await startServer({
    args: ['--push-allow-http-endpoints'],
    env: { CONFAB_PUSH__DELAY_MS: '300', CONFAB_PUSH__POLL_MS: '50' },
  });
  url = server.url;
});
afterEach(() => closeAllSockets());
after(async () => {
  closeAllSockets();
  if (server) await server.stop();
  // web-push-testing keeps its HTTP server open; nothing else holds the process.
  setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
});

const T = { timeout: 30_000 };

/** A browser subscribing at the push service with Confab's VAPID key. */
async function browserSubscription() {
  const key = await api(url, 'GET', '/api/push/vapid-public-key');
  assert.equal(key.status, 200);
  const res = await fetch(`${push}/subscribe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userVisibleOnly: 'true', applicationServerKey: key.body.publicKey }),
  });
  assert.equal(res.status, 200, 'the push service accepts the VAPID key as an applicationServerKey');
  return (await res.json()).data;
}

async function notifications(clientHash) {
  const res = await fetch(`${push}/get-notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ clientHash }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).data.messages.map((m) => JSON.parse(m));
}

test('an offline user is pushed through an independent Web Push service, once per burst', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const sub = await browserSubscription();
  const reg = await api(url, 'POST', '/api/push/subscriptions', {
    token: bob.token,
    body: { type: 'webpush', endpoint: sub.endpoint, keys: sub.keys },
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  assert.equal(reg.body.subscription.type, 'webpush');

  const a = await connect(url, alice.token);
  let last;
  for (const text of ['one', 'two', 'three']) {
    const ack = await emitAck(a, 'send_message', { receiverId: bob.id, message: text, clientMsgId: uniqueId() });
    last = ack.message;
  }
  const got = await eventually(async () => {
    const n = await notifications(sub.clientHash);
    return n.length > 0 ? n : null;
  }, { timeoutMs: 10_000, what: 'a push at the push service' });
  await sleep(1000);
  const all = await notifications(sub.clientHash);
  assert.equal(all.length, 1, `three quick messages are one push: ${JSON.stringify(all)}`);
  const [n] = got;
  assert.equal(n.title, alice.username);
  assert.equal(n.body, 'three (+2 more)');
  assert.equal(n.badge, 3);
  assert.equal(n.data.conversationId, last.conversationId);
  assert.equal(n.data.messageId, last.id);
  assert.equal(n.tag, `c${last.conversationId}`);
});

test('an expired subscription (410 from the push service) is pruned', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const sub = await browserSubscription();
  await api(url, 'POST', '/api/push/subscriptions', {
    token: bob.token,
    body: { type: 'webpush', endpoint: sub.endpoint, keys: sub.keys },
  });
  const expired = await fetch(`${push}/expire-subscription/${sub.clientHash}`, { method: 'POST' });
  assert.equal(expired.status, 200);
  const sent = await api(url, 'POST', '/api/messages', { token: alice.token, body: { receiverId: bob.id, message: 'hello?' } });
  assert.equal(sent.status, 201);
  await eventually(async () => {
    const list = await api(url, 'GET', '/api/push/subscriptions', { token: bob.token });
    return list.body.subscriptions.length === 0;
  }, { timeoutMs: 10_000, what: 'the dead subscription pruned' });
});
