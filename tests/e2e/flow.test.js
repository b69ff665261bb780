// The design's one-to-one flow: offline send + fetch_unread, live send +
// delivered/read receipts, multi-device sync, typing, presence, REST send.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newUser, connect, closeAllSockets, emitAck, waitFor, record, settle, api, history,
  conversations, uniqueId, messageProblems, isIsoTime, ackCode, assertOk, pick,
  NO_PAYLOAD,
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

const TYPING_KEYS = ['conversationId', 'userId', 'isTyping'];
const T = { timeout: 30_000 };

/** Send over a socket, assert a message ack and return the message. */
async function send(socket, receiverId, text, extra = {}) {
  const ack = await emitAck(socket, 'send_message', { receiverId, message: text, clientMsgId: uniqueId(), ...extra });
  assert.ok(ack && ack.message, `send_message ack should carry a message, got ${JSON.stringify(ack)}`);
  assert.deepEqual(messageProblems(ack.message), [], 'message shape');
  return ack.message;
}

test('offline send, then fetch_unread_messages returns it exactly once and the sender sees delivered', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const a = await connect(url, alice.token);
  const aStatus = record(a, 'message_status');

  const c1 = uniqueId();
  const ack1 = await emitAck(a, 'send_message', { receiverId: bob.id, message: 'first, while you were away', clientMsgId: c1 });
  assert.ok(ack1?.message, `ack: ${JSON.stringify(ack1)}`);
  const m1 = ack1.message;
  assert.deepEqual(messageProblems(m1), []);
  assert.equal(m1.senderId, alice.id);
  assert.equal(m1.receiverId, bob.id);
  assert.equal(m1.message, 'first, while you were away');
  assert.equal(m1.clientMsgId, c1);
  assert.equal(m1.status, 'sent', 'nobody has received it yet');
  const m2 = await send(a, bob.id, 'second');
  assert.equal(m2.conversationId, m1.conversationId, 'same direct conversation');
  assert.ok(m2.seq > m1.seq, 'seq grows');
  assert.ok(m2.id !== m1.id);

  const b = await connect(url, bob.token);
  const f1 = await emitAck(b, 'fetch_unread_messages', {});
  assert.ok(f1 && Array.isArray(f1.messages), `fetch ack: ${JSON.stringify(f1)}`);
  assert.equal(f1.hasMore, false);
  assert.deepEqual(f1.messages.map((m) => m.id), [m1.id, m2.id], 'both messages, oldest first');
  for (const m of f1.messages) assert.deepEqual(messageProblems(m, { withStatus: false }), []);
  assert.equal(f1.messages[0].message, 'first, while you were away');
  assert.equal(f1.messages[0].senderId, alice.id);
  assert.equal(f1.messages[0].receiverId, bob.id);
  assert.equal(f1.messages[0].conversationId, m1.conversationId);

  const f2 = await emitAck(b, 'fetch_unread_messages', {});
  assert.ok(f2 && Array.isArray(f2.messages), `second fetch ack: ${JSON.stringify(f2)}`);
  assert.deepEqual(f2.messages.filter((m) => m.id === m1.id || m.id === m2.id), [], 'not returned twice');
  assert.equal(f2.hasMore, false);

  const st = await aStatus.next((s) => s.status === 'delivered' && s.messageId === m2.id);
  assert.equal(st.conversationId, m1.conversationId);
  assert.equal(st.userId, bob.id, 'userId is the recipient');
  assert.equal(aStatus.count((s) => s.status === 'read'), 0, 'nothing read yet');

  const hist = await history(url, alice.token, m1.conversationId);
  const byId = new Map(hist.map((m) => [m.id, m]));
  assert.equal(byId.get(m1.id)?.status, 'delivered');
  assert.equal(byId.get(m2.id)?.status, 'delivered');
});

test('fetch_unread_messages with {conversationId} after a reconnect', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const carol = await newUser(url, 'carol');
  const a = await connect(url, alice.token);
  const c = await connect(url, carol.token);
  const fromAlice = await send(a, bob.id, 'from alice');
  const fromCarol = await send(c, bob.id, 'from carol');
  assert.notEqual(fromAlice.conversationId, fromCarol.conversationId);

  const b = await connect(url, bob.token);
  const onlyAlice = await emitAck(b, 'fetch_unread_messages', { conversationId: fromAlice.conversationId });
  assert.deepEqual(onlyAlice?.messages?.map((m) => m.id), [fromAlice.id], JSON.stringify(onlyAlice));
  b.disconnect();

  const again = await send(a, bob.id, 'while you were away again');
  const b2 = await connect(url, bob.token);
  const rest = await emitAck(b2, 'fetch_unread_messages', {});
  assert.ok(Array.isArray(rest?.messages), JSON.stringify(rest));
  assert.deepEqual(new Set(rest.messages.map((m) => m.id)), new Set([fromCarol.id, again.id]),
    'carol\'s message and the new one, not the one already fetched');
  const empty = await emitAck(b2, 'fetch_unread_messages', NO_PAYLOAD);
  assert.deepEqual(empty?.messages, [], `no payload is like {}: ${JSON.stringify(empty)}`);
});

test('live send: receive_message, ack → delivered, mark_read → read; other devices stay in sync', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const a1 = await connect(url, alice.token);
  const a2 = await connect(url, alice.token, { transports: ['websocket'] });
  const b = await connect(url, bob.token);

  assertOk(await emitAck(a1, 'join', { userId: alice.id }));
  assertOk(await emitAck(b, 'join', { userId: bob.id }));

  const a1Recv = record(a1, 'receive_message');
  const a2Recv = record(a2, 'receive_message');
  const a1Status = record(a1, 'message_status');
  const a2Status = record(a2, 'message_status');
  const bGot = waitFor(b, 'receive_message', (m) => m.message === 'Hey Bob!', 5000, { ack: { ok: true } });

  const sent = await send(a1, bob.id, 'Hey Bob!');
  assert.equal(sent.senderId, alice.id);
  assert.equal(sent.receiverId, bob.id);

  const rm = await bGot;
  assert.equal(rm.id, sent.id);
  assert.equal(rm.conversationId, sent.conversationId);
  assert.equal(rm.senderId, alice.id);
  assert.equal(rm.receiverId, bob.id);
  assert.equal(rm.message, 'Hey Bob!');
  assert.equal(rm.seq, sent.seq);
  assert.ok(isIsoTime(rm.createdAt), `createdAt ${rm.createdAt}`);

  const isDelivered = (s) => s.status === 'delivered' && s.messageId === sent.id;
  const d1 = await a1Status.next(isDelivered);
  assert.equal(d1.userId, bob.id);
  assert.equal(d1.conversationId, sent.conversationId);
  await a2Status.next(isDelivered);

  // The sender's other device got a copy; the sending socket did not.
  const copy = await a2Recv.next((m) => m.id === sent.id);
  assert.equal(copy.senderId, alice.id);
  assert.equal(copy.message, 'Hey Bob!');

  const [conv] = (await conversations(url, bob.token)).filter((cv) => cv.id === sent.conversationId);
  assert.ok(conv, 'bob lists the conversation');
  assert.equal(conv.type, 'direct');
  assert.equal(conv.unreadCount, 1);
  assert.equal(conv.lastMessage?.id, sent.id);

  const isRead = (s) => s.status === 'read' && s.messageId === sent.id;
  assertOk(await emitAck(b, 'mark_read', { conversationId: sent.conversationId, messageId: sent.id }));
  const r1 = await a1Status.next(isRead);
  assert.equal(r1.userId, bob.id, 'userId is the reader');
  assert.equal(r1.conversationId, sent.conversationId);
  await a2Status.next(isRead);

  const [after] = (await conversations(url, bob.token)).filter((cv) => cv.id === sent.conversationId);
  assert.equal(after.unreadCount, 0);
  const hist = await history(url, alice.token, sent.conversationId);
  assert.equal(hist.find((m) => m.id === sent.id)?.status, 'read');

  await settle();
  assert.equal(a1Recv.count((m) => m.id === sent.id), 0, 'the sending socket does not get its own message back');
  assert.equal(a2Recv.count((m) => m.id === sent.id), 1, 'the other device got exactly one copy');
});

test('mark_read covers everything up to that message', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const a = await connect(url, alice.token);
  const m1 = await send(a, bob.id, 'one');
  const m2 = await send(a, bob.id, 'two');
  const m3 = await send(a, bob.id, 'three');
  const aStatus = record(a, 'message_status');

  const b = await connect(url, bob.token);
  const fetched = await emitAck(b, 'fetch_unread_messages', {});
  assert.deepEqual(fetched?.messages?.map((m) => m.id), [m1.id, m2.id, m3.id]);
  await aStatus.next((s) => s.status === 'delivered' && s.messageId === m3.id);

  assertOk(await emitAck(b, 'mark_read', { conversationId: m1.conversationId, messageId: m2.id }));
  const st = await aStatus.next((s) => s.status === 'read' && s.messageId === m2.id);
  assert.equal(st.userId, bob.id);

  const [conv] = (await conversations(url, bob.token)).filter((cv) => cv.id === m1.conversationId);
  assert.equal(conv.unreadCount, 1, 'only the third is unread');
  const statuses = new Map((await history(url, alice.token, m1.conversationId)).map((m) => [m.id, m.status]));
  assert.equal(statuses.get(m1.id), 'read');
  assert.equal(statuses.get(m2.id), 'read');
  assert.equal(statuses.get(m3.id), 'delivered');
});

test('typing is relayed to the other member only', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const carol = await newUser(url, 'carol');
  const a = await connect(url, alice.token);
  const b = await connect(url, bob.token);
  const c = await connect(url, carol.token);
  const cTyping = record(c, 'typing');
  const m = await send(a, bob.id, 'hello');

  const started = waitFor(b, 'typing', (t) => t.isTyping === true);
  const ack = await emitAck(a, 'typing', { conversationId: m.conversationId, isTyping: true });
  assert.equal(ackCode(ack), undefined, `typing ack: ${JSON.stringify(ack)}`);
  assertOk(ack);
  assert.deepEqual(pick(await started, TYPING_KEYS), { conversationId: m.conversationId, userId: alice.id, isTyping: true });

  const stopped = waitFor(b, 'typing', (t) => t.isTyping === false);
  await emitAck(a, 'typing', { conversationId: m.conversationId, isTyping: false });
  assert.deepEqual(pick(await stopped, TYPING_KEYS), { conversationId: m.conversationId, userId: alice.id, isTyping: false });

  // And the other way round.
  const aSees = waitFor(a, 'typing', (t) => t.userId === bob.id);
  await emitAck(b, 'typing', { conversationId: m.conversationId, isTyping: true });
  assert.deepEqual(pick(await aSees, TYPING_KEYS), { conversationId: m.conversationId, userId: bob.id, isTyping: true });

  await settle();
  assert.equal(cTyping.items.length, 0, `a non-member saw typing: ${JSON.stringify(cTyping.items)}`);
});

test('presence: online on the first device, offline (with lastSeen) after the last', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const carol = await newUser(url, 'carol');
  // alice and bob share a conversation; carol shares none with alice.
  const first = await api(url, 'POST', '/api/messages', {
    token: bob.token, body: { receiverId: alice.id, message: 'ping', clientMsgId: uniqueId() },
  });
  assert.equal(first.status, 201, JSON.stringify(first.body));

  const b = await connect(url, bob.token);
  const c = await connect(url, carol.token);
  const bPresence = record(b, 'presence');
  const cPresence = record(c, 'presence');
  const aboutAlice = (p) => p.userId === alice.id;

  const a1 = await connect(url, alice.token);
  const online = await bPresence.next((p) => aboutAlice(p) && p.online === true);
  assert.ok(online.lastSeen === null || isIsoTime(online.lastSeen), `lastSeen: ${JSON.stringify(online.lastSeen)}`);

  const a2 = await connect(url, alice.token, { transports: ['websocket'] });
  a1.disconnect();
  await settle();
  const seen = () => JSON.stringify(bPresence.matching(aboutAlice));
  assert.equal(bPresence.count((p) => aboutAlice(p) && p.online === false), 0, `one device is still online, yet: ${seen()}`);
  assert.equal(bPresence.count((p) => aboutAlice(p) && p.online === true), 1, `second device: no second online event: ${seen()}`);

  a2.disconnect();
  const offline = await bPresence.next((p) => aboutAlice(p) && p.online === false);
  assert.ok(isIsoTime(offline.lastSeen), `lastSeen should be an ISO time, got ${JSON.stringify(offline.lastSeen)}`);

  await settle();
  assert.equal(cPresence.count(aboutAlice), 0, `carol shares no conversation with alice: ${JSON.stringify(cPresence.items)}`);
});

test('REST send (POST /api/messages) reaches the recipient\'s socket, idempotently', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const a = await connect(url, alice.token);
  const b = await connect(url, bob.token);
  const aStatus = record(a, 'message_status');
  const aRecv = record(a, 'receive_message');
  const bRecv = record(b, 'receive_message', { ack: { ok: true } });

  const clientMsgId = uniqueId();
  const body = { receiverId: bob.id, message: 'sent over REST', clientMsgId };
  const res = await api(url, 'POST', '/api/messages', { token: alice.token, body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const m = res.body.message;
  assert.deepEqual(messageProblems(m), []);
  assert.equal(m.senderId, alice.id);
  assert.equal(m.receiverId, bob.id);
  assert.equal(m.clientMsgId, clientMsgId);

  const got = await bRecv.next((x) => x.id === m.id);
  assert.equal(got.message, 'sent over REST');
  assert.equal(got.senderId, alice.id);
  const st = await aStatus.next((s) => s.status === 'delivered' && s.messageId === m.id);
  assert.equal(st.userId, bob.id);
  // Every socket of the sender is "another device" for a REST send.
  await aRecv.next((x) => x.id === m.id);

  const again = await api(url, 'POST', '/api/messages', { token: alice.token, body });
  assert.ok(again.status === 200 || again.status === 201, `resend status ${again.status}`);
  assert.equal(again.body?.message?.id, m.id, 'resend returns the original');
  await settle();
  assert.equal(bRecv.count((x) => x.id === m.id), 1, 'delivered once');
  assert.equal(aRecv.count((x) => x.id === m.id), 1, 'copied to the sender\'s socket once');
  const hist = await history(url, bob.token, m.conversationId);
  assert.equal(hist.filter((x) => x.clientMsgId === clientMsgId).length, 1, 'stored once');
});

test('REST send rejects bad input with the documented errors', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const post = (body, token = alice.token) => api(url, 'POST', '/api/messages', { token, body });

  let r = await post({ receiverId: bob.id, message: 'no token' }, null);
  assert.equal(r.status, 401);
  assert.equal(r.body?.error?.code, 'unauthorized');

  r = await post({ receiverId: bob.id, message: '   ' });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, 'invalid');
  assert.equal(typeof r.body?.error?.message, 'string');

  r = await post({ receiverId: bob.id, message: 'x'.repeat(5000) });
  assert.equal(r.body?.error?.code, 'too_large', JSON.stringify(r.body));
  assert.equal(r.status, 413);

  r = await post({ receiverId: 987654321, message: 'to nobody' });
  assert.equal(r.status, 404, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, 'not_found');

  r = await post({ receiverId: alice.id, message: 'to myself' });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, 'invalid');

  r = await post({ receiverId: 'bob', message: 'wrong type' });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, 'invalid');

  r = await api(url, 'POST', '/api/messages', { token: alice.token, rawBody: '{"receiverId": ' });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, 'invalid');

  const convs = await conversations(url, bob.token);
  for (const cv of convs) {
    const msgs = await history(url, bob.token, cv.id);
    assert.equal(msgs.length, 0, `nothing stored: ${JSON.stringify(msgs)}`);
  }
});
