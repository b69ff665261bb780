// Durability: messages, accounts and unread state survive a graceful restart
// (SIGTERM) on the same data directory.

import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, makeTempDir, newUser, login, connect, closeAllSockets, emitAck, waitFor, record,
  api, history, conversations, uniqueId, assertOk,
} from './harness.js';

const servers = [];
afterEach(() => closeAllSockets());
after(async () => {
  closeAllSockets();
  for (const s of servers) await s.stop();
});

test('history, accounts and unread messages survive a SIGTERM restart on the same data dir', { timeout: 90_000 }, async () => {
  const dataDir = makeTempDir();
  const first = await startServer({ dataDir });
  servers.push(first);
  let url = first.url;

  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const carol = await newUser(url, 'carol');
  const a = await connect(url, alice.token);
  const b = await connect(url, bob.token, { transports: ['websocket'] });
  const bRecv = record(b, 'receive_message', { ack: { ok: true } });

  // alice ↔ bob live, read up to the second message; alice → carol while carol is offline.
  const sent = [];
  for (const text of ['before restart 1', 'before restart 2', 'before restart 3']) {
    const ack = await emitAck(a, 'send_message', { receiverId: bob.id, message: text, clientMsgId: uniqueId() });
    assert.ok(ack?.message, JSON.stringify(ack));
    sent.push(ack.message);
  }
  const restSent = await api(url, 'POST', '/api/messages', {
    token: bob.token, body: { receiverId: alice.id, message: 'reply over REST', clientMsgId: uniqueId() },
  });
  assert.equal(restSent.status, 201);
  await bRecv.next((m) => m.id === sent[2].id);
  const readStatus = waitFor(a, 'message_status', (s) => s.status === 'read' && s.messageId === sent[1].id);
  assertOk(await emitAck(b, 'mark_read', { conversationId: sent[0].conversationId, messageId: sent[1].id }));
  await readStatus;
  const dupId = uniqueId();
  const forCarol = await emitAck(a, 'send_message', { receiverId: carol.id, message: 'for carol, offline', clientMsgId: dupId });
  assert.ok(forCarol?.message);

  const historyBefore = await history(url, alice.token, sent[0].conversationId);
  assert.equal(historyBefore.length, 4);

  closeAllSockets();
  const stopped = await first.stop();
  assert.equal(stopped.killed, false, 'SIGTERM should stop the server within 5 s');
  assert.equal(stopped.code, 0, `graceful stop should exit 0, got code ${stopped.code} signal ${stopped.signal}`);

  const second = await startServer({ dataDir });
  servers.push(second);
  url = second.url;

  // Accounts: the password still works.
  const alice2 = await login(url, alice.username, alice.password);
  assert.equal(alice2.user.id, alice.id);
  const bob2 = await login(url, bob.username, bob.password);
  const carol2 = await login(url, carol.username, carol.password);
  const wrong = await api(url, 'POST', '/api/auth/login', { body: { username: alice.username, password: 'not the password' } });
  assert.equal(wrong.status, 401);
  const dup = await api(url, 'POST', '/api/auth/register', { body: { username: alice.username, password: alice.password } });
  assert.equal(dup.status, 409, 'the username is still taken');

  // History: the same messages, ids, seqs and statuses.
  const historyAfter = await history(url, alice2.token, sent[0].conversationId);
  assert.deepEqual(
    historyAfter.map(({ id, seq, senderId, receiverId, message, createdAt, clientMsgId, status }) => ({ id, seq, senderId, receiverId, message, createdAt, clientMsgId, status })),
    historyBefore.map(({ id, seq, senderId, receiverId, message, createdAt, clientMsgId, status }) => ({ id, seq, senderId, receiverId, message, createdAt, clientMsgId, status })),
  );
  const statuses = new Map(historyAfter.map((m) => [m.id, m.status]));
  assert.equal(statuses.get(sent[1].id), 'read');
  assert.equal(statuses.get(sent[2].id), 'delivered');
  const [bobConv] = (await conversations(url, bob2.token)).filter((c) => c.id === sent[0].conversationId);
  assert.equal(bobConv?.unreadCount, 1, 'read watermark survived');

  // Unread state: carol gets her offline message exactly once, after the restart.
  const c = await connect(url, carol2.token);
  const f1 = await emitAck(c, 'fetch_unread_messages', {});
  assert.deepEqual(f1?.messages?.map((m) => m.id), [forCarol.message.id]);
  const f2 = await emitAck(c, 'fetch_unread_messages', {});
  assert.deepEqual(f2?.messages, []);

  // Idempotency survives too; new messages continue the sequence.
  const a2 = await connect(url, alice2.token);
  const resend = await emitAck(a2, 'send_message', { receiverId: carol.id, message: 'for carol, offline', clientMsgId: dupId });
  assert.equal(resend?.message?.id, forCarol.message.id, 'clientMsgId dedup after restart');
  const next = await emitAck(a2, 'send_message', { receiverId: bob.id, message: 'after restart', clientMsgId: uniqueId() });
  assert.ok(next?.message, JSON.stringify(next));
  assert.equal(next.message.seq, 5);
  assert.ok(!historyBefore.some((m) => m.id === next.message.id), 'ids are not reused');
});
