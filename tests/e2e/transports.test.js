// Both socket.io-client transport setups complete a send/receive round trip:
// the default (HTTP long-polling first, then upgrade to WebSocket) and
// `transports: ["websocket"]`; plus polling-only for good measure.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newUser, connect, closeAllSockets, emitAck, waitFor, record, uniqueId,
} from './harness.js';

let server;
let url;

before(async () => {
  server = await startServer();
  url = server.url;
});
afterEach(() => closeAllSockets());
after(async () => {
  closeAllSockets();
  if (server) await server.stop();
});

const T = { timeout: 30_000 };

const SETUPS = {
  default: {},
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
};

/** Resolve once the engine runs on WebSocket (after the upgrade). */
function upgraded(socket, timeoutMs = 5000) {
  const engine = socket.io.engine;
  if (engine.transport.name === 'websocket') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `no upgrade to websocket within ${timeoutMs} ms (still on ${engine.transport.name})`,
    )), timeoutMs);
    engine.once('upgrade', () => { clearTimeout(timer); resolve(); });
  });
}

/** alice sends to bob; bob receives and acks; alice sees delivered. */
async function roundTrip(a, b, alice, bob, text) {
  const got = waitFor(b, 'receive_message', (m) => m.message === text, 5000, { ack: { ok: true } });
  const status = waitFor(a, 'message_status', (s) => s.status === 'delivered');
  const ack = await emitAck(a, 'send_message', { receiverId: bob.id, message: text, clientMsgId: uniqueId() });
  assert.ok(ack?.message, JSON.stringify(ack));
  const m = await got;
  assert.equal(m.id, ack.message.id);
  assert.equal(m.senderId, alice.id);
  const st = await status;
  assert.equal(st.messageId, ack.message.id);
  assert.equal(st.userId, bob.id);
  // And the reply goes the other way.
  const reply = waitFor(a, 'receive_message', (x) => x.message === `re: ${text}`, 5000, { ack: {} });
  const rack = await emitAck(b, 'send_message', { receiverId: alice.id, message: `re: ${text}`, clientMsgId: uniqueId() });
  assert.ok(rack?.message, JSON.stringify(rack));
  assert.equal((await reply).id, rack.message.id);
}

test('default transports start on polling and upgrade to websocket; messages flow before and after', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const a = await connect(url, alice.token);
  const b = await connect(url, bob.token);
  const aUp = upgraded(a);
  const bUp = upgraded(b);
  // Right after connecting the client is usually still on polling.
  await roundTrip(a, b, alice, bob, 'early, maybe over polling');
  await aUp;
  await bUp;
  assert.equal(a.io.engine.transport.name, 'websocket');
  assert.equal(b.io.engine.transport.name, 'websocket');
  await roundTrip(a, b, alice, bob, 'after the upgrade');
});

for (const [sender, receiver] of [
  ['websocket', 'websocket'],
  ['default', 'websocket'],
  ['websocket', 'default'],
  ['polling', 'polling'],
  ['polling', 'websocket'],
]) {
  test(`send/receive: sender ${sender}, recipient ${receiver}`, T, async () => {
    const alice = await newUser(url, 'alice');
    const bob = await newUser(url, 'bob');
    const a = await connect(url, alice.token, SETUPS[sender]);
    const b = await connect(url, bob.token, SETUPS[receiver]);
    if (sender === 'websocket') assert.equal(a.io.engine.transport.name, 'websocket');
    if (sender === 'polling') assert.equal(a.io.engine.transport.name, 'polling');
    await roundTrip(a, b, alice, bob, `${sender} → ${receiver}`);
  });
}

test('offline fetch works over each transport', T, async () => {
  const alice = await newUser(url, 'alice');
  const a = await connect(url, alice.token, SETUPS.websocket);
  for (const name of Object.keys(SETUPS)) {
    const bob = await newUser(url, 'bob');
    const ack = await emitAck(a, 'send_message', { receiverId: bob.id, message: `offline for ${name}`, clientMsgId: uniqueId() });
    assert.ok(ack?.message, JSON.stringify(ack));
    const b = await connect(url, bob.token, SETUPS[name]);
    const f = await emitAck(b, 'fetch_unread_messages', {});
    assert.deepEqual(f?.messages?.map((m) => m.id), [ack.message.id], `${name}: ${JSON.stringify(f)}`);
  }
});

test('a user with one socket per transport gets the message on all of them', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const a = await connect(url, alice.token);
  const bobs = await Promise.all(Object.values(SETUPS).map((opts) => connect(url, bob.token, opts)));
  const recs = bobs.map((s) => record(s, 'receive_message', { ack: {} }));
  const ack = await emitAck(a, 'send_message', { receiverId: bob.id, message: 'to every device', clientMsgId: uniqueId() });
  assert.ok(ack?.message);
  await Promise.all(recs.map((r) => r.next((m) => m.id === ack.message.id)));
});
