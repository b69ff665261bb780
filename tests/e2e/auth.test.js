// Authentication on both protocols: the Socket.IO handshake refuses missing,
// garbage and revoked tokens; logout disconnects sockets opened with the token.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newUser, login, connect, closeAllSockets, emitAck, waitForDisconnect, api,
  uniqueId, settle, assertOk,
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

async function refused(promise, what) {
  let err;
  try {
    const s = await promise;
    s.close();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what}: the handshake should be refused, but the socket connected`);
  assert.match(String(err.message), /unauthorized/, `${what}: connect_error message was "${err.message}"`);
  return err;
}

for (const transports of [undefined, ['websocket']]) {
  const label = transports ? 'websocket-only' : 'default transports';

  test(`handshake without a token is refused (${label})`, T, async () => {
    await refused(connect(url, undefined, transports ? { transports } : {}), 'no token');
    await refused(connect(url, undefined, { auth: { token: '' }, ...(transports ? { transports } : {}) }), 'empty token');
  });

  test(`handshake with a garbage token is refused (${label})`, T, async () => {
    const opts = transports ? { transports } : {};
    await refused(connect(url, 'garbage', opts), 'garbage token');
    await refused(connect(url, 'x'.repeat(2000), opts), 'long garbage token');
    await refused(connect(url, undefined, { auth: { token: 12345 }, ...opts }), 'numeric token');
    await refused(connect(url, undefined, { auth: { token: { nested: true } }, ...opts }), 'object token');
  });
}

test('a valid token connects on both transports', T, async () => {
  const ana = await newUser(url, 'ana');
  const s1 = await connect(url, ana.token);
  const s2 = await connect(url, ana.token, { transports: ['websocket'] });
  assert.ok(s1.connected && s2.connected);
  assertOk(await emitAck(s1, 'join', { userId: ana.id }));
  assertOk(await emitAck(s2, 'join', { userId: ana.id }));
});

test('logout revokes the token: REST 401, handshake refused, open sockets disconnected', T, async () => {
  const ana = await newUser(url, 'ana');
  const bob = await newUser(url, 'bob');
  // A second token of the same user must survive the logout of the first.
  const other = await login(url, ana.username, ana.password);
  assert.notEqual(other.token, ana.token);

  const polling = await connect(url, ana.token);
  const ws = await connect(url, ana.token, { transports: ['websocket'] });
  const survivor = await connect(url, other.token);
  const pollingGone = waitForDisconnect(polling);
  const wsGone = waitForDisconnect(ws);
  const survivorDisc = [];
  survivor.on('disconnect', (r) => survivorDisc.push(r));

  const out = await api(url, 'POST', '/api/auth/logout', { token: ana.token });
  assert.equal(out.status, 204, JSON.stringify(out.body));

  await pollingGone;
  await wsGone;
  assert.equal(polling.connected, false);
  assert.equal(ws.connected, false);

  const me = await api(url, 'GET', '/api/users/me', { token: ana.token });
  assert.equal(me.status, 401);
  assert.equal(me.body?.error?.code, 'unauthorized');
  await refused(connect(url, ana.token), 'revoked token');
  await refused(connect(url, ana.token, { transports: ['websocket'] }), 'revoked token (websocket)');

  // The other token of the same user is untouched.
  await settle();
  assert.deepEqual(survivorDisc, [], 'a socket with another token was disconnected');
  assert.ok(survivor.connected);
  const meOther = await api(url, 'GET', '/api/users/me', { token: other.token });
  assert.equal(meOther.status, 200);
  assert.equal(meOther.body?.user?.id, ana.id);
  const ack = await emitAck(survivor, 'send_message', { receiverId: bob.id, message: 'still here', clientMsgId: uniqueId() });
  assert.ok(ack?.message, JSON.stringify(ack));
});

test('REST: every /api route but register/login needs a valid bearer token', T, async () => {
  const ana = await newUser(url, 'ana');
  const routes = [
    ['GET', '/api/users/me'],
    ['GET', '/api/users?q=an'],
    ['GET', `/api/users/${ana.id}`],
    ['GET', '/api/conversations'],
    ['GET', '/api/conversations/1/messages'],
    ['POST', '/api/messages'],
    ['POST', '/api/auth/logout'],
  ];
  for (const [method, route] of routes) {
    for (const [label, headers] of [
      ['no header', {}],
      ['garbage token', { authorization: 'Bearer not-a-token' }],
      ['wrong scheme', { authorization: `Basic ${ana.token}` }],
    ]) {
      const body = method === 'POST' ? { receiverId: ana.id, message: 'x' } : undefined;
      const r = await api(url, method, route, { headers, body });
      assert.equal(r.status, 401, `${method} ${route} with ${label}: ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body?.error?.code, 'unauthorized', `${method} ${route} with ${label}`);
      assert.equal(typeof r.body?.error?.message, 'string');
    }
  }
});
