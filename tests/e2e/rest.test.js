// The REST surface: health, register/login validation, users, conversations
// and history access control.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newUser, register, login, api, uniqueName, uniqueId, history, conversations,
  messageProblems, DEFAULT_PASSWORD,
} from './harness.js';

let server;
let url;

before(async () => {
  server = await startServer();
  url = server.url;
});
after(async () => {
  if (server) await server.stop();
});

const T = { timeout: 30_000 };

function assertError(res, status, code, what) {
  assert.equal(res.status, status, `${what}: status ${res.status} body ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.error?.code, code, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.body?.error?.message, 'string', `${what}: error.message`);
}

test('GET /healthz answers 200', T, async () => {
  const r = await api(url, 'GET', '/healthz');
  assert.equal(r.status, 200);
});

test('register: 201 with user and token; displayName defaults sensibly', T, async () => {
  const username = uniqueName('reg');
  const r = await api(url, 'POST', '/api/auth/register', {
    body: { username, password: DEFAULT_PASSWORD, displayName: 'Reg Istered' },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.ok(Number.isInteger(r.body.user.id) && r.body.user.id > 0);
  assert.equal(r.body.user.username, username);
  assert.equal(r.body.user.displayName, 'Reg Istered');
  assert.equal(typeof r.body.token, 'string');
  assert.ok(r.body.token.length > 0);
  assert.equal('password' in r.body.user, false, 'no password in the user object');

  const plain = await register(url, uniqueName('plain'));
  assert.equal(typeof plain.user.displayName, 'string');
});

test('register: 409 conflict for a taken username, 400 invalid for bad input', T, async () => {
  const username = uniqueName('dup');
  await register(url, username);
  assertError(await api(url, 'POST', '/api/auth/register', { body: { username, password: DEFAULT_PASSWORD } }),
    409, 'conflict', 'same username');

  const bad = [
    [{ username: 'ab', password: DEFAULT_PASSWORD }, 'username too short'],
    [{ username: 'a'.repeat(33), password: DEFAULT_PASSWORD }, 'username too long'],
    [{ username: 'has space', password: DEFAULT_PASSWORD }, 'space in username'],
    [{ username: 'semi;colon', password: DEFAULT_PASSWORD }, 'punctuation in username'],
    [{ username: uniqueName('pw'), password: 'short' }, 'password too short'],
    [{ username: uniqueName('pw'), password: '1234567' }, 'password of 7'],
    [{ username: uniqueName('np') }, 'no password'],
    [{ password: DEFAULT_PASSWORD }, 'no username'],
    [{ username: 12345, password: DEFAULT_PASSWORD }, 'numeric username'],
    [{ username: uniqueName('ty'), password: 12345678 }, 'numeric password'],
    [[], 'array body'],
    ['just a string', 'string body'],
  ];
  for (const [body, what] of bad) {
    assertError(await api(url, 'POST', '/api/auth/register', { body }), 400, 'invalid', what);
  }
  assertError(await api(url, 'POST', '/api/auth/register', { rawBody: '{"username":' }), 400, 'invalid', 'malformed JSON');

  // Boundaries that must be accepted.
  const three = `a${uniqueId('').slice(1, 3)}`; // 'a' + two hex digits
  const ok3 = await api(url, 'POST', '/api/auth/register', { body: { username: three, password: '12345678' } });
  assert.equal(ok3.status, 201, `3-char username: ${ok3.status} ${JSON.stringify(ok3.body)}`);
  const long = uniqueName('x'.repeat(16)).padEnd(32, '9').slice(0, 32);
  const ok32 = await api(url, 'POST', '/api/auth/register', { body: { username: long, password: '12345678' } });
  assert.equal(ok32.status, 201, `32-char username with an 8-char password: ${JSON.stringify(ok32.body)}`);
  const dotted = await api(url, 'POST', '/api/auth/register', {
    body: { username: uniqueName('a.b-c'), password: DEFAULT_PASSWORD },
  });
  assert.equal(dotted.status, 201, `[A-Za-z0-9_.-]: ${JSON.stringify(dotted.body)}`);
});

test('login: 200 with a fresh token; 401 unauthorized on wrong credentials', T, async () => {
  const u = await newUser(url, 'login');
  const r = await login(url, u.username, u.password);
  assert.equal(r.user.id, u.id);
  assert.equal(r.user.username, u.username);
  assert.equal(typeof r.token, 'string');
  const me = await api(url, 'GET', '/api/users/me', { token: r.token });
  assert.equal(me.status, 200);
  assert.equal(me.body.user.id, u.id);

  assertError(await api(url, 'POST', '/api/auth/login', { body: { username: u.username, password: 'wrong password' } }),
    401, 'unauthorized', 'wrong password');
  assertError(await api(url, 'POST', '/api/auth/login', { body: { username: uniqueName('nobody'), password: DEFAULT_PASSWORD } }),
    401, 'unauthorized', 'unknown user');
});

test('users: me, search by prefix, by id, 404 for unknown', T, async () => {
  const prefix = uniqueName('srch').replace('_', '').slice(0, 12);
  const a = await register(url, `${prefix}_a`);
  const b = await register(url, `${prefix}_b`);
  const me = await api(url, 'GET', '/api/users/me', { token: a.token });
  assert.equal(me.status, 200);
  assert.deepEqual(
    { id: me.body.user.id, username: me.body.user.username, displayName: me.body.user.displayName },
    { id: a.user.id, username: a.user.username, displayName: a.user.displayName },
  );

  const found = await api(url, 'GET', `/api/users?q=${encodeURIComponent(prefix)}`, { token: a.token });
  assert.equal(found.status, 200);
  assert.ok(Array.isArray(found.body.users));
  const ids = found.body.users.map((x) => x.id);
  assert.ok(ids.includes(a.user.id) && ids.includes(b.user.id), JSON.stringify(found.body));
  assert.ok(found.body.users.every((x) => x.username.toLowerCase().startsWith(prefix.toLowerCase())));

  const byId = await api(url, 'GET', `/api/users/${b.user.id}`, { token: a.token });
  assert.equal(byId.status, 200);
  assert.equal(byId.body.user.id, b.user.id);
  assert.equal(byId.body.user.username, b.user.username);

  assertError(await api(url, 'GET', '/api/users/987654321', { token: a.token }), 404, 'not_found', 'unknown user id');
});

test('conversations list and history; non-members get 403 or 404', T, async () => {
  const ana = await newUser(url, 'ana');
  const bob = await newUser(url, 'bob');
  const eve = await newUser(url, 'eve');
  const sent = [];
  for (const text of ['one', 'two', 'three']) {
    const r = await api(url, 'POST', '/api/messages', {
      token: ana.token, body: { receiverId: bob.id, message: text, clientMsgId: uniqueId() },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    sent.push(r.body.message);
  }
  const convId = sent[0].conversationId;

  const list = await conversations(url, bob.token);
  const conv = list.find((c) => c.id === convId);
  assert.ok(conv, JSON.stringify(list));
  assert.equal(conv.type, 'direct');
  assert.ok(Array.isArray(conv.members));
  const memberIds = conv.members.map((m) => m.userId ?? m.id).sort((x, y) => x - y);
  assert.deepEqual(memberIds, [ana.id, bob.id].sort((x, y) => x - y));
  assert.equal(conv.unreadCount, 3);
  assert.equal(conv.lastMessage?.id, sent[2].id);
  assert.deepEqual(messageProblems(conv.lastMessage), []);
  const anaConv = (await conversations(url, ana.token)).find((c) => c.id === convId);
  assert.equal(anaConv?.unreadCount, 0, 'own messages are not unread');
  assert.equal((await conversations(url, eve.token)).some((c) => c.id === convId), false);

  const msgs = await history(url, bob.token, convId);
  assert.deepEqual(msgs.map((m) => m.id), sent.map((m) => m.id).reverse(), 'newest first');
  for (const m of msgs) assert.deepEqual(messageProblems(m), []);
  const page = await history(url, bob.token, convId, `?limit=2`);
  assert.deepEqual(page.map((m) => m.id), [sent[2].id, sent[1].id]);
  const older = await history(url, bob.token, convId, `?before=${page[1].id}&limit=2`);
  assert.deepEqual(older.map((m) => m.id), [sent[0].id]);

  const forbidden = await api(url, 'GET', `/api/conversations/${convId}/messages`, { token: eve.token });
  assert.ok(forbidden.status === 403 || forbidden.status === 404, `non-member: ${forbidden.status}`);
  assert.ok(['forbidden', 'not_found'].includes(forbidden.body?.error?.code), JSON.stringify(forbidden.body));
  assert.equal(JSON.stringify(forbidden.body).includes('three'), false, 'no content leaks');
  const missing = await api(url, 'GET', '/api/conversations/987654321/messages', { token: eve.token });
  assert.ok(missing.status === 403 || missing.status === 404, `unknown conversation: ${missing.status}`);
});
