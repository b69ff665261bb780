// Edit, delete, reply, reactions, search and block (#17) with the unmodified
// socket.io-client: the contract of docs/API.md, event by event.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newUser, api, connect, emitAck, waitFor, record, settle, history, conversations,
  ackCode, isIsoTime, messageProblems, assertOk, closeAllSockets,
} from './harness.js';

let server;
let url;

before(async () => {
  server = await startServer();
  url = server.url;
});
after(async () => {
  closeAllSockets();
  if (server) await server.stop();
});

const T = { timeout: 30_000 };

async function send(socket, payload) {
  const ack = await emitAck(socket, 'send_message', payload);
  assert.ok(ack.message, `send: ${JSON.stringify(ack)}`);
  return ack.message;
}

test('a new message carries the new fields, empty', T, async () => {
  const [a, b] = [await newUser(url, 'nf_a'), await newUser(url, 'nf_b')];
  const sa = await connect(url, a.token);
  const sb = await connect(url, b.token);
  const live = waitFor(sb, 'receive_message', undefined, 5000, { ack: true });
  const m = await send(sa, { receiverId: b.id, message: 'fresh' });
  assert.deepEqual(messageProblems(m), []);
  assert.equal(m.editedAt, null);
  assert.equal(m.deleted, false);
  assert.equal(m.replyTo, null);
  assert.deepEqual(m.reactions, []);
  const got = await live;
  assert.equal(got.deleted, false);
  assert.deepEqual(got.reactions, []);
});

test('edit_message: ack, message_updated on every device, history, REST PATCH', T, async () => {
  const [a, b] = [await newUser(url, 'ed_a'), await newUser(url, 'ed_b')];
  const a1 = await connect(url, a.token);
  const a2 = await connect(url, a.token);
  const b1 = await connect(url, b.token);
  const m = await send(a1, { receiverId: b.id, message: 'teh typo' });
  const updates = [a1, a2, b1].map((s) => waitFor(s, 'message_updated', (e) => e.message.id === m.id));
  const ack = await emitAck(a1, 'edit_message', { messageId: m.id, message: 'the typo' });
  assert.equal(ack.message.message, 'the typo');
  assert.ok(isIsoTime(ack.message.editedAt), JSON.stringify(ack));
  for (const e of await Promise.all(updates)) {
    assert.equal(e.message.message, 'the typo');
    assert.ok(isIsoTime(e.message.editedAt));
  }
  const page = await history(url, b.token, m.conversationId);
  assert.equal(page[0].message, 'the typo');

  assert.equal(ackCode(await emitAck(b1, 'edit_message', { messageId: m.id, message: 'hijack' })), 'forbidden');
  assert.equal(ackCode(await emitAck(a1, 'edit_message', { messageId: m.id, message: '' })), 'invalid');
  assert.equal(ackCode(await emitAck(a1, 'edit_message', { messageId: 'x', message: 'y' })), 'invalid');
  assert.equal(ackCode(await emitAck(a1, 'edit_message', { messageId: 987654321, message: 'y' })), 'not_found');

  const rest = await api(url, 'PATCH', `/api/messages/${m.id}`, { token: a.token, body: { message: 'via rest' } });
  assert.equal(rest.status, 200, JSON.stringify(rest.body));
  assert.equal(rest.body.message.message, 'via rest');
  const other = await api(url, 'PATCH', `/api/messages/${m.id}`, { token: b.token, body: { message: 'no' } });
  assert.equal(other.status, 403);
  assert.equal(other.body.error.code, 'forbidden');
});

test('delete_message: tombstone in history, unread fetch and list; idempotent; REST 204', T, async () => {
  const [a, b] = [await newUser(url, 'dl_a'), await newUser(url, 'dl_b')];
  const sa = await connect(url, a.token);
  const m = await send(sa, { receiverId: b.id, message: 'take this back' });
  const sb = await connect(url, b.token);
  const deleted = waitFor(sb, 'message_deleted');
  assertOk(await emitAck(sa, 'delete_message', { messageId: m.id }));
  assert.deepEqual(await deleted, { conversationId: m.conversationId, messageId: m.id });

  const [tomb] = await history(url, b.token, m.conversationId);
  assert.equal(tomb.id, m.id);
  assert.equal(tomb.seq, m.seq);
  assert.equal(tomb.deleted, true);
  assert.equal(tomb.message, '');
  assert.deepEqual(tomb.attachments, []);
  const unread = await emitAck(sb, 'fetch_unread_messages', {});
  assert.equal(unread.messages.length, 1);
  assert.equal(unread.messages[0].deleted, true);
  const [c] = await conversations(url, b.token);
  assert.equal(c.unreadCount, 0, 'a deleted message is not unread');
  assert.equal(c.lastMessage.deleted, true);

  assertOk(await emitAck(sa, 'delete_message', { messageId: m.id }), 'twice');
  const rest = await api(url, 'DELETE', `/api/messages/${m.id}`, { token: a.token });
  assert.equal(rest.status, 204);
  const m2 = await send(sa, { receiverId: b.id, message: 'not yours' });
  assert.equal(ackCode(await emitAck(sb, 'delete_message', { messageId: m2.id })), 'forbidden');
  assert.equal(ackCode(await emitAck(sb, 'delete_message', {})), 'invalid');
  assert.equal(ackCode(await emitAck(sa, 'edit_message', { messageId: m.id, message: 'back' })), 'not_found');
});

test('replyTo: quoted in the ack, the live copy and history; other conversation is invalid', T, async () => {
  const [a, b, c] = [await newUser(url, 'rp_a'), await newUser(url, 'rp_b'), await newUser(url, 'rp_c')];
  const sa = await connect(url, a.token);
  const sb = await connect(url, b.token);
  const q = await send(sa, { receiverId: b.id, message: 'x'.repeat(250) });
  const live = waitFor(sa, 'receive_message', (p) => p.replyTo !== null, 5000, { ack: true });
  const r = await send(sb, { receiverId: a.id, message: 'answer', replyTo: q.id });
  assert.deepEqual(r.replyTo, { id: q.id, senderId: a.id, message: 'x'.repeat(200) });
  assert.equal((await live).replyTo.id, q.id);
  const sc = await connect(url, c.token);
  const elsewhere = await send(sc, { receiverId: a.id, message: 'other conversation' });
  assert.equal(ackCode(await emitAck(sb, 'send_message', { receiverId: a.id, message: 'x', replyTo: elsewhere.id })), 'invalid');
  const rest = await api(url, 'POST', '/api/messages', { token: b.token, body: { receiverId: a.id, message: 'rest reply', replyTo: q.id } });
  assert.equal(rest.status, 201);
  assert.equal(rest.body.message.replyTo.id, q.id);
});

test('react/unreact: acks, reaction_updated, ordered by first use, toggles, history', T, async () => {
  const [a, b] = [await newUser(url, 'rx_a'), await newUser(url, 'rx_b')];
  const sa = await connect(url, a.token);
  const sb = await connect(url, b.token);
  const m = await send(sa, { receiverId: b.id, message: 'nice?' });
  const updates = record(sa, 'reaction_updated');
  let ack = await emitAck(sb, 'react', { messageId: m.id, emoji: '🔥' });
  assert.deepEqual(ack, { reactions: [{ emoji: '🔥', count: 1, userIds: [b.id] }] });
  const ev = await updates.next((e) => e.messageId === m.id);
  assert.deepEqual(ev, { conversationId: m.conversationId, messageId: m.id, reactions: ack.reactions });
  await emitAck(sa, 'react', { messageId: m.id, emoji: '👍🏽' });
  ack = await emitAck(sa, 'react', { messageId: m.id, emoji: '🔥' });
  assert.deepEqual(ack.reactions.map((r) => [r.emoji, r.count]), [['🔥', 2], ['👍🏽', 1]]);
  assert.deepEqual(await emitAck(sa, 'react', { messageId: m.id, emoji: '🔥' }), ack, 'no-op');
  ack = await emitAck(sa, 'unreact', { messageId: m.id, emoji: '🔥' });
  assert.deepEqual(ack.reactions[0], { emoji: '🔥', count: 1, userIds: [b.id] });
  for (const emoji of ['x', '🔥🔥', '', 'a'.repeat(17), null]) {
    assert.equal(ackCode(await emitAck(sa, 'react', { messageId: m.id, emoji })), 'invalid', String(emoji));
  }
  const [h] = await history(url, a.token, m.conversationId);
  assert.deepEqual(h.reactions, ack.reactions);
});

test('search: words, prefix, case and accents, membership, deleted never match', T, async () => {
  const [a, b, c] = [await newUser(url, 'se_a'), await newUser(url, 'se_b'), await newUser(url, 'se_c')];
  const sa = await connect(url, a.token);
  const hit = await send(sa, { receiverId: b.id, message: 'Déjà vu at the Crème Brûlée place' });
  const gone = await send(sa, { receiverId: b.id, message: 'creme brulee secret' });
  await emitAck(sa, 'delete_message', { messageId: gone.id });
  const q = (s, token = b.token) => api(url, 'GET', `/api/search/messages?q=${encodeURIComponent(s)}`, { token });
  let r = await q('CREME brul');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.messages.map((m) => m.id), [hit.id]);
  assert.deepEqual(messageProblems(r.body.messages[0]), []);
  r = await q('deja', c.token);
  assert.deepEqual(r.body.messages, [], 'not a member');
  r = await api(url, 'GET', `/api/search/messages?q=deja&conversationId=${hit.conversationId}`, { token: b.token });
  assert.equal(r.body.messages.length, 1);
  for (const bad of ['', '   ', 'a'.repeat(201)]) {
    r = await q(bad);
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.error.code, 'invalid');
  }
});

test('block: DMs refused with nothing stored, typing hidden, list, unblock', T, async () => {
  const [a, b, c] = [await newUser(url, 'bk_a'), await newUser(url, 'bk_b'), await newUser(url, 'bk_c')];
  const sa = await connect(url, a.token);
  const sb = await connect(url, b.token);
  // Recorded from the start: the first message's live delivery may trail its
  // ack, and must not be mistaken for one that slipped past the block.
  const received = record(sa, 'receive_message', { ack: true });
  const first = await send(sb, { receiverId: a.id, message: 'hello' });
  await received.next((p) => p.id === first.id);
  const g = await api(url, 'POST', '/api/conversations', { token: c.token, body: { type: 'group', name: 'trio', memberIds: [a.id, b.id] } });
  assert.equal(g.status, 201);
  let r = await api(url, 'POST', `/api/users/${b.id}/block`, { token: a.token });
  assert.equal(r.status, 204);
  r = await api(url, 'GET', '/api/users/blocked', { token: a.token });
  assert.deepEqual(r.body.users.map((u) => [u.id, u.username]), [[b.id, b.username]]);
  assert.ok('displayName' in r.body.users[0]);

  const typing = record(sa, 'typing');
  assert.equal(ackCode(await emitAck(sb, 'send_message', { receiverId: a.id, message: 'ignored?' })), 'forbidden');
  await emitAck(sb, 'typing', { conversationId: g.body.conversation.id, isTyping: true });
  await settle();
  assert.equal(received.count((p) => p.senderId === b.id && p.id !== first.id), 0, 'nothing from b reached a');
  assert.equal(typing.count(), 0, 'no typing from a blocked user');
  assert.equal((await history(url, a.token, first.conversationId)).length, 1, 'nothing stored');
  r = await api(url, 'POST', `/api/users/${a.id}/block`, { token: a.token });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'invalid');
  r = await api(url, 'POST', '/api/conversations', { token: b.token, body: { type: 'group', name: 'nope', memberIds: [a.id] } });
  assert.equal(r.status, 403);

  r = await api(url, 'DELETE', `/api/users/${b.id}/block`, { token: a.token });
  assert.equal(r.status, 204);
  const m = await send(sb, { receiverId: a.id, message: 'better now' });
  assert.equal((await received.next((p) => p.id === m.id)).message, 'better now');
});
