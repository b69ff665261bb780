// Group chat with the unmodified socket.io-client: creation, fan-out to every
// device, offline catch-up, per-member receipts, removal, roles, the member
// cap and concurrent membership changes.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newUser, connect, closeAllSockets, emitAck, record, settle, api, ackCode, uniqueId,
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

async function createGroup(owner, name, members, base = url) {
  const res = await api(base, 'POST', '/api/conversations', {
    token: owner.token, body: { type: 'group', name, memberIds: members.map((m) => m.id) },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.conversation;
}

const isText = (m) => m.type === 'text';

test('a group message reaches every device of every member once, and not the sending socket', T, async () => {
  const [ana, bob, cyd] = [await newUser(url, 'ana'), await newUser(url, 'bob'), await newUser(url, 'cyd')];
  const g = await createGroup(ana, 'Team', [bob, cyd]);
  assert.equal(g.type, 'group');
  assert.deepEqual(g.members.map((m) => [m.userId, m.role]).sort(),
    [[ana.id, 'owner'], [bob.id, 'member'], [cyd.id, 'member']].sort());

  const sender = await connect(url, ana.token);
  const anaLaptop = await connect(url, ana.token, { transports: ['websocket'] });
  const devices = [await connect(url, bob.token), await connect(url, bob.token, { transports: ['websocket'] }),
    await connect(url, cyd.token), await connect(url, cyd.token)];
  const recs = [...devices, anaLaptop].map((s) => record(s, 'receive_message', { ack: {} }));
  const own = record(sender, 'receive_message');

  const ack = await emitAck(sender, 'send_message', { conversationId: g.id, message: 'hello team', clientMsgId: uniqueId() });
  assert.equal(ack.message.conversationId, g.id);
  assert.equal(ack.message.receiverId, null);
  for (const r of recs) {
    const m = await r.next((x) => x.id === ack.message.id);
    assert.equal(m.senderId, ana.id);
    assert.equal(m.conversationId, g.id);
  }
  await settle();
  for (const r of recs) assert.equal(r.count((x) => x.id === ack.message.id), 1, 'exactly once per device');
  assert.equal(own.count((x) => x.id === ack.message.id), 0, 'the sending socket does not get it back');
});

test('an offline member catches up exactly once; typing carries the name', T, async () => {
  const [ana, bob, cyd] = [await newUser(url, 'ana'), await newUser(url, 'bob'), await newUser(url, 'cyd')];
  const g = await createGroup(ana, 'Later', [bob, cyd]);
  const a = await connect(url, ana.token);
  const sent = [];
  for (let i = 0; i < 3; i += 1) {
    sent.push((await emitAck(a, 'send_message', { conversationId: g.id, message: `m${i}` })).message.id);
  }
  const b = await connect(url, bob.token);
  const first = await emitAck(b, 'fetch_unread_messages', { conversationId: g.id });
  assert.deepEqual(first.messages.filter(isText).map((m) => m.id), sent);
  assert.equal(first.messages[0].type, 'system');
  assert.equal(first.messages[0].system.event, 'created');
  const second = await emitAck(b, 'fetch_unread_messages', {});
  assert.deepEqual(second.messages, []);

  const c = await connect(url, cyd.token);
  const typing = record(c, 'typing');
  await emitAck(b, 'typing', { conversationId: g.id, isTyping: true });
  const t = await typing.next();
  assert.equal(t.userId, bob.id);
  assert.equal(t.isTyping, true);
  assert.equal(typeof t.displayName, 'string');
});

test('receipts aggregate per member; read only when everyone has read', T, async () => {
  const [ana, bob, cyd] = [await newUser(url, 'ana'), await newUser(url, 'bob'), await newUser(url, 'cyd')];
  const g = await createGroup(ana, 'Receipts', [bob, cyd]);
  const a = await connect(url, ana.token);
  const b = await connect(url, bob.token);
  const c = await connect(url, cyd.token);
  const statuses = record(a, 'message_status');
  const { message } = await emitAck(a, 'send_message', { conversationId: g.id, message: 'read me' });
  const path = `/api/conversations/${g.id}/messages/${message.id}/receipts`;

  assert.deepEqual(await emitAck(b, 'mark_read', { conversationId: g.id, messageId: message.id }), { ok: true });
  await statuses.next((s) => s.status === 'read' && s.userId === bob.id && s.messageId === message.id);
  let r = await api(url, 'GET', path, { token: ana.token });
  assert.equal(r.status, 200);
  assert.equal(r.body.readCount, 1);
  assert.equal(r.body.memberCount, 2);
  assert.notEqual(r.body.status, 'read');

  await emitAck(c, 'mark_read', { conversationId: g.id, messageId: message.id });
  await statuses.next((s) => s.status === 'read' && s.userId === cyd.id);
  r = await api(url, 'GET', path, { token: bob.token });
  assert.equal(r.body.readCount, 2);
  assert.equal(r.body.status, 'read');
});

test('a removed member gets conversation_removed, then nothing, and is forbidden', T, async () => {
  const [ana, bob, cyd] = [await newUser(url, 'ana'), await newUser(url, 'bob'), await newUser(url, 'cyd')];
  const g = await createGroup(ana, 'Remove', [bob, cyd]);
  const a = await connect(url, ana.token);
  const c = await connect(url, cyd.token);
  const removed = record(c, 'conversation_removed');
  const cInbox = record(c, 'receive_message', { ack: {} });

  const del = await api(url, 'DELETE', `/api/conversations/${g.id}/members/${cyd.id}`, { token: ana.token });
  assert.equal(del.status, 204);
  assert.deepEqual(await removed.next(), { conversationId: g.id, reason: 'removed' });
  const before = cInbox.items.length;
  const { message } = await emitAck(a, 'send_message', { conversationId: g.id, message: 'after removal' });
  await settle();
  assert.equal(cInbox.items.length, before, 'nothing arrives after the removal');
  assert.equal(cInbox.count((m) => m.id === message.id), 0);

  const send = await emitAck(c, 'send_message', { conversationId: g.id, message: 'let me in' });
  assert.equal(ackCode(send), 'forbidden');
  const hist = await api(url, 'GET', `/api/conversations/${g.id}/messages`, { token: cyd.token });
  assert.equal(hist.status, 403);
});

test('roles: members cannot manage, admins cannot remove admins or the owner, ownership hands over', T, async () => {
  const [ana, bob, cyd, dan] = [await newUser(url, 'ana'), await newUser(url, 'bob'), await newUser(url, 'cyd'),
    await newUser(url, 'dan')];
  const g = await createGroup(ana, 'Roles', [bob, cyd, dan]);
  const members = `/api/conversations/${g.id}/members`;
  const as = (u, method, path, body) => api(url, method, path, { token: u.token, body });

  assert.equal((await as(cyd, 'DELETE', `${members}/${dan.id}`)).status, 403, 'a member cannot remove');
  assert.equal((await as(ana, 'PATCH', `${members}/${bob.id}`, { role: 'admin' })).status, 200);
  assert.equal((await as(ana, 'PATCH', `${members}/${cyd.id}`, { role: 'admin' })).status, 200);
  assert.equal((await as(dan, 'DELETE', `${members}/${bob.id}`)).status, 403, 'a member cannot remove an admin');
  assert.equal((await as(bob, 'DELETE', `${members}/${cyd.id}`)).status, 403, 'an admin cannot remove an admin');
  assert.equal((await as(bob, 'DELETE', `${members}/${ana.id}`)).status, 403, 'an admin cannot remove the owner');
  assert.equal((await as(bob, 'DELETE', `${members}/${dan.id}`)).status, 204, 'an admin removes a member');

  const handed = await as(ana, 'PATCH', `${members}/${bob.id}`, { role: 'owner' });
  assert.equal(handed.status, 200);
  const roles = Object.fromEntries(handed.body.conversation.members.map((m) => [m.userId, m.role]));
  assert.equal(roles[bob.id], 'owner');
  assert.equal(roles[ana.id], 'admin');
});

test('the member cap gives a clear error and changes nothing', T, async () => {
  const small = await startServer({ env: { CONFAB_LIMITS__GROUP_MAX_MEMBERS: '3' } });
  try {
    const users = [];
    for (let i = 0; i < 4; i += 1) users.push(await newUser(small.url, `cap${i}`));
    const [owner, ...rest] = users;
    const tooBig = await api(small.url, 'POST', '/api/conversations', {
      token: owner.token, body: { type: 'group', name: 'big', memberIds: rest.map((u) => u.id) },
    });
    assert.equal(tooBig.status, 409);
    assert.equal(tooBig.body.error.code, 'conflict');
    const g = await createGroup(owner, 'ok', rest.slice(0, 2), small.url);
    const add = await api(small.url, 'POST', `/api/conversations/${g.id}/members`, {
      token: owner.token, body: { userIds: [rest[2].id] },
    });
    assert.equal(add.status, 409);
    const now = await api(small.url, 'GET', `/api/conversations/${g.id}`, { token: owner.token });
    assert.equal(now.body.conversation.members.length, 3);
  } finally {
    await small.stop();
  }
});

test('concurrent adds and removes leave a consistent member list', T, async () => {
  const owner = await newUser(url, 'own');
  const others = [];
  for (let i = 0; i < 8; i += 1) others.push(await newUser(url, `race${i}`));
  const g = await createGroup(owner, 'Race', []);
  const members = `/api/conversations/${g.id}/members`;
  await Promise.all(others.flatMap((u, i) => [
    api(url, 'POST', members, { token: owner.token, body: { userIds: [u.id, others[(i + 1) % others.length].id] } }),
    api(url, 'DELETE', `${members}/${others[(i + 3) % others.length].id}`, { token: owner.token }),
  ]));
  const res = await api(url, 'GET', members, { token: owner.token });
  const ids = res.body.members.map((m) => m.userId);
  assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  assert.equal(res.body.members.filter((m) => m.role === 'owner').length, 1);
  assert.ok(ids.includes(owner.id));
});
