// Hostile and sloppy clients: spoofed senderId, duplicate clientMsgId,
// garbage payloads for every event, unknown events, oversized packets.
// Every failure must answer the ack with {error:{code,message}} AND emit an
// `error` event {code,message}; the server must stay usable afterwards.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newUser, connect, closeAllSockets, emitAck, waitFor, waitForDisconnect, record,
  settle, api, history, conversations, uniqueId, ackCode, messageProblems, NO_PAYLOAD, assertOk,
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

const T = { timeout: 60_000 };

function show(v) {
  if (v === NO_PAYLOAD) return '(no payload)';
  if (Buffer.isBuffer(v)) return `<Buffer ${v.length} bytes>`;
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…(${s.length} chars)` : s;
}

/**
 * A socket plus a recorder of its `error` events, for checking that each
 * failure yields exactly one ack error and one `error` event with the same code.
 */
function checker(socket) {
  const errors = record(socket, 'error');
  let failures = 0;
  return {
    errors,
    async fails(event, payload, codes) {
      const before = errors.items.length;
      const ack = await emitAck(socket, event, payload);
      const code = ackCode(ack);
      const what = `${event} ${show(payload)}`;
      assert.ok(code !== undefined, `${what}: expected an error ack, got ${show(ack)}`);
      assert.ok(codes.includes(code), `${what}: error code "${code}" (${ack.error.message}), expected one of ${codes}`);
      assert.equal(typeof ack.error.message, 'string', `${what}: error.message`);
      failures += 1;
      await errors.atLeast(before + 1, () => true, 5000).catch(() => {
        assert.fail(`${what}: the ack was ${show(ack)} but no \`error\` event arrived`);
      });
      const ev = errors.items[before];
      assert.equal(ev?.code, code, `${what}: error event ${show(ev)} should carry the ack's code`);
      assert.equal(typeof ev.message, 'string', `${what}: error event message`);
      return ack;
    },
    async noExtraErrors() {
      await settle();
      assert.equal(errors.items.length, failures,
        `expected exactly one error event per failure (${failures}), got ${errors.items.length}: ${show(errors.items.map((e) => e.code))}`);
    },
  };
}

test('spoofed senderId is forbidden; nothing is delivered or stored', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const carol = await newUser(url, 'carol');
  const a = await connect(url, alice.token);
  const b = await connect(url, bob.token);
  const c = await connect(url, carol.token);
  const bRecv = record(b, 'receive_message', { ack: {} });
  const cRecv = record(c, 'receive_message', { ack: {} });
  const check = checker(a);

  await check.fails('send_message', { receiverId: bob.id, senderId: bob.id, message: 'spoof one', clientMsgId: uniqueId() }, ['forbidden']);
  await check.fails('send_message', { receiverId: carol.id, senderId: bob.id, message: 'spoof two', clientMsgId: uniqueId() }, ['forbidden']);
  await check.fails('send_message', { receiverId: bob.id, senderId: carol.id, message: 'spoof three' }, ['forbidden']);
  await check.fails('send_message', { receiverId: bob.id, senderId: 987654321, message: 'spoof four' }, ['forbidden']);

  const rest = await api(url, 'POST', '/api/messages', {
    token: alice.token, body: { receiverId: bob.id, senderId: bob.id, message: 'spoof over REST' },
  });
  assert.equal(rest.status, 403, JSON.stringify(rest.body));
  assert.equal(rest.body?.error?.code, 'forbidden');

  await settle();
  assert.deepEqual(bRecv.items, [], 'bob received a spoofed message');
  assert.deepEqual(cRecv.items, [], 'carol received a spoofed message');
  for (const [user, sock] of [[bob, b], [carol, c]]) {
    const unread = await emitAck(sock, 'fetch_unread_messages', {});
    assert.deepEqual(unread?.messages, [], `${user.username} has unread spoofed messages: ${show(unread)}`);
  }
  for (const user of [alice, bob, carol]) {
    for (const conv of await conversations(url, user.token)) {
      const msgs = await history(url, user.token, conv.id);
      assert.deepEqual(msgs.filter((m) => m.message.startsWith('spoof')), [], 'a spoofed message was stored');
    }
  }
  await check.noExtraErrors();

  // senderId equal to yourself is fine.
  const ok = await emitAck(a, 'send_message', { receiverId: bob.id, senderId: alice.id, message: 'honest', clientMsgId: uniqueId() });
  assert.ok(ok?.message, show(ok));
  assert.equal(ok.message.senderId, alice.id);
  await bRecv.next((m) => m.id === ok.message.id);
});

test('duplicate clientMsgId returns the original; the recipient gets it once; stored once', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const a1 = await connect(url, alice.token);
  const a2 = await connect(url, alice.token, { transports: ['websocket'] });
  const b = await connect(url, bob.token);
  const bRecv = record(b, 'receive_message', { ack: { ok: true } });
  const a2Recv = record(a2, 'receive_message');

  const clientMsgId = uniqueId();
  const payload = { receiverId: bob.id, message: 'only once please', clientMsgId };
  const first = await emitAck(a1, 'send_message', payload);
  assert.ok(first?.message, show(first));
  const second = await emitAck(a1, 'send_message', payload);
  assert.equal(second?.message?.id, first.message.id, `resend: ${show(second)}`);
  assert.equal(second.message.seq, first.message.seq);
  assert.equal(second.message.clientMsgId, clientMsgId);
  const fromOtherDevice = await emitAck(a2, 'send_message', payload);
  assert.equal(fromOtherDevice?.message?.id, first.message.id, `resend from another device: ${show(fromOtherDevice)}`);
  const overRest = await api(url, 'POST', '/api/messages', { token: alice.token, body: payload });
  assert.ok(overRest.status === 200 || overRest.status === 201, `REST resend: ${overRest.status}`);
  assert.equal(overRest.body?.message?.id, first.message.id);

  // Concurrent duplicates (a retry racing the original).
  const racing = { receiverId: bob.id, message: 'racing', clientMsgId: uniqueId() };
  const acks = await Promise.all([
    emitAck(a1, 'send_message', racing), emitAck(a2, 'send_message', racing), emitAck(a1, 'send_message', racing),
  ]);
  const racingIds = new Set(acks.map((x) => x?.message?.id));
  assert.equal(racingIds.size, 1, `concurrent duplicates got different results: ${show(acks)}`);
  const racingId = [...racingIds][0];
  assert.ok(Number.isInteger(racingId));

  await bRecv.next((m) => m.id === first.message.id);
  await bRecv.next((m) => m.id === racingId);
  await settle();
  assert.equal(bRecv.count((m) => m.id === first.message.id), 1, 'recipient got the duplicate twice');
  assert.equal(bRecv.count((m) => m.clientMsgId === clientMsgId || m.message === 'only once please'), 1);
  assert.equal(bRecv.count((m) => m.message === 'racing'), 1, 'recipient got a racing duplicate twice');
  assert.equal(a2Recv.count((m) => m.message === 'only once please'), 1, 'the other device got one copy');

  const hist = await history(url, bob.token, first.message.conversationId);
  assert.equal(hist.filter((m) => m.message === 'only once please').length, 1, 'stored once');
  assert.equal(hist.filter((m) => m.message === 'racing').length, 1, 'racing duplicate stored once');
  const seqs = hist.map((m) => m.seq).sort((x, y) => x - y);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'seq has no gaps');

  // Idempotency is per sender: bob may use the same clientMsgId.
  const bobs = await emitAck(b, 'send_message', { receiverId: alice.id, message: 'mine', clientMsgId });
  assert.ok(bobs?.message, show(bobs));
  assert.notEqual(bobs.message.id, first.message.id);
  assert.equal(bobs.message.senderId, bob.id);
});

test('duplicate clientMsgId while the recipient is offline: fetched once', T, async () => {
  const alice = await newUser(url, 'alice');
  const carol = await newUser(url, 'carol');
  const a = await connect(url, alice.token);
  const payload = { receiverId: carol.id, message: 'offline dup', clientMsgId: uniqueId() };
  const one = await emitAck(a, 'send_message', payload);
  const two = await emitAck(a, 'send_message', payload);
  assert.equal(two?.message?.id, one?.message?.id);
  const c = await connect(url, carol.token);
  const f = await emitAck(c, 'fetch_unread_messages', {});
  assert.deepEqual(f?.messages?.map((m) => m.id), [one.message.id]);
});

/** Users, sockets and a conversation for the garbage tests. */
async function garbageSetup() {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const carol = await newUser(url, 'carol');
  const a = await connect(url, alice.token);
  const b = await connect(url, bob.token);
  const c = await connect(url, carol.token);
  // Bob sees both setup messages live but does not acknowledge them, so they
  // stay unread/undelivered; waiting for them keeps later recorders clean.
  const bSaw = record(b, 'receive_message');
  const m = (await emitAck(a, 'send_message', { receiverId: bob.id, message: 'setup', clientMsgId: uniqueId() })).message;
  const fromCarol = (await emitAck(c, 'send_message', { receiverId: bob.id, message: 'setup carol', clientMsgId: uniqueId() })).message;
  await bSaw.next((x) => x.id === m.id);
  await bSaw.next((x) => x.id === fromCarol.id);
  bSaw.stop();
  assert.deepEqual(messageProblems(m), []);
  return { alice, bob, carol, a, b, c, m, fromCarol };
}

/** After garbage: a normal send still works and a fresh client can connect. */
async function stillWorks({ alice, bob }) {
  const fresh = await connect(url, bob.token);
  const got = waitFor(fresh, 'receive_message', (x) => x.message === 'after the garbage', 5000, { ack: {} });
  const a = await connect(url, alice.token, { transports: ['websocket'] });
  const ack = await emitAck(a, 'send_message', { receiverId: bob.id, message: 'after the garbage', clientMsgId: uniqueId() });
  assert.ok(ack?.message, `normal send after garbage: ${show(ack)}`);
  assert.equal((await got).id, ack.message.id);
  const health = await api(url, 'GET', '/healthz');
  assert.equal(health.status, 200);
}

test('send_message garbage payloads each get an error (ack + error event)', T, async () => {
  const s = await garbageSetup();
  const { alice, bob } = s;
  const a = await connect(url, alice.token);
  const bRecv = record(s.b, 'receive_message', { ack: {} });
  const check = checker(a);
  const I = ['invalid'];
  const cases = [
    [NO_PAYLOAD, I],
    [null, I],
    [42, I],
    ['hello', I],
    [true, I],
    [[], I],
    [[bob.id, 'hi'], I],
    [{}, I],
    [{ receiverId: bob.id }, I],
    [{ message: 'no receiver' }, I],
    [{ receiverId: 'bob', message: 'hi' }, I],
    [{ receiverId: {}, message: 'hi' }, I],
    [{ receiverId: [bob.id], message: 'hi' }, I],
    [{ receiverId: null, message: 'hi' }, I],
    [{ receiverId: 1.5, message: 'hi' }, ['invalid', 'not_found']],
    [{ receiverId: -1, message: 'hi' }, ['invalid', 'not_found']],
    [{ receiverId: bob.id, message: 123 }, I],
    [{ receiverId: bob.id, message: null }, I],
    [{ receiverId: bob.id, message: { text: 'hi' } }, I],
    [{ receiverId: bob.id, message: ['hi'] }, I],
    [{ receiverId: bob.id, message: '' }, I],
    [{ receiverId: bob.id, message: '   \n\t  ' }, I],
    [{ receiverId: bob.id, message: 'x'.repeat(5000) }, ['too_large']],
    [{ receiverId: bob.id, message: 'y'.repeat(4001) }, ['too_large']],
    [{ receiverId: 987654321, message: 'to nobody' }, ['not_found']],
    [{ receiverId: alice.id, message: 'to myself' }, I],
    [{ receiverId: bob.id, message: 'hi', senderId: 'alice' }, ['invalid', 'forbidden']],
  ];
  for (const [payload, codes] of cases) await check.fails('send_message', payload, codes);
  await check.noExtraErrors();

  // Binary attachments are not text.
  const bin = checker(await connect(url, alice.token));
  await bin.fails('send_message', Buffer.from('binary'), I);
  await bin.fails('send_message', { receiverId: bob.id, message: Buffer.from('binary text') }, I);
  await bin.noExtraErrors();

  await settle();
  assert.deepEqual(bRecv.items, [], `garbage was delivered: ${show(bRecv.items)}`);
  const stored = await history(url, bob.token, s.m.conversationId);
  assert.deepEqual(stored.map((m) => m.message), ['setup'], 'garbage was stored');

  // Boundaries that must be accepted: exactly 4000 characters, multi-byte too.
  const ok = await connect(url, alice.token);
  for (const text of ['z'.repeat(4000), 'é'.repeat(4000)]) {
    const ack = await emitAck(ok, 'send_message', { receiverId: bob.id, message: text, clientMsgId: uniqueId() });
    assert.ok(ack?.message, `4000 characters must be accepted: ${show(ack)}`);
    assert.equal(ack.message.message, text);
  }
  await stillWorks(s);
});

test('send_message with a wrongly typed clientMsgId is invalid and stores nothing', T, async () => {
  // "wrong field types" → error: clientMsgId is a string (up to 128 bytes).
  const s = await garbageSetup();
  const check = checker(await connect(url, s.alice.token));
  const bRecv = record(s.b, 'receive_message', { ack: {} });
  for (const clientMsgId of [12345, { id: 'x' }, ['x'], true]) {
    await check.fails('send_message', { receiverId: s.bob.id, message: `typed ${show(clientMsgId)}`, clientMsgId }, ['invalid']);
  }
  await check.noExtraErrors();
  assert.deepEqual(bRecv.items, [], `delivered: ${show(bRecv.items)}`);
  await stillWorks(s);
});

test('send_message without an ack callback still gets an error event', T, async () => {
  const s = await garbageSetup();
  const a = await connect(url, s.alice.token);
  for (const [payload, code] of [[null, 'invalid'], [{ receiverId: s.bob.id, message: 'q'.repeat(5000) }, 'too_large']]) {
    const err = waitFor(a, 'error');
    a.emit('send_message', payload);
    const e = await err;
    assert.equal(e.code, code, show(e));
    assert.equal(typeof e.message, 'string');
  }
  const err = waitFor(a, 'error');
  a.emit('no_such_event', { hello: 1 });
  assert.equal((await err).code, 'invalid');
  await stillWorks(s);
});

test('mark_read garbage payloads each get an error and mark nothing read', T, async () => {
  const s = await garbageSetup();
  const { m, fromCarol } = s;
  const b = await connect(url, s.bob.token);
  const check = checker(b);
  const aStatus = record(s.a, 'message_status');
  const conv = m.conversationId;
  const I = ['invalid'];
  const NF = ['not_found', 'forbidden'];
  const cases = [
    [NO_PAYLOAD, I],
    [null, I],
    [5, I],
    ['x', I],
    [true, I],
    [[], I],
    [[conv, m.id], I],
    [{}, I],
    [{ conversationId: conv }, I],
    [{ messageId: m.id }, I],
    [{ conversationId: 'abc', messageId: m.id }, I],
    [{ conversationId: conv, messageId: 'abc' }, I],
    [{ conversationId: conv, messageId: null }, I],
    [{ conversationId: [conv], messageId: m.id }, I],
    [{ conversationId: 987654321, messageId: m.id }, NF],
    [{ conversationId: conv, messageId: 987654321 }, ['not_found', 'invalid']],
    [{ conversationId: conv, messageId: fromCarol.id }, ['not_found', 'invalid']],
  ];
  for (const [payload, codes] of cases) await check.fails('mark_read', payload, codes);
  await check.noExtraErrors();

  // Not a member of that conversation.
  const c = checker(await connect(url, s.carol.token));
  await c.fails('mark_read', { conversationId: conv, messageId: m.id }, NF);
  await c.noExtraErrors();

  await settle();
  assert.equal(aStatus.count((x) => x.status === 'read'), 0, `garbage marked something read: ${show(aStatus.items)}`);
  const [bc] = (await conversations(url, s.bob.token)).filter((x) => x.id === conv);
  assert.equal(bc.unreadCount, 1);
  assert.notEqual((await history(url, s.alice.token, conv)).find((x) => x.id === m.id)?.status, 'read');
  await stillWorks(s);
});

test('fetch_unread_messages garbage payloads each get an error and fetch nothing', T, async () => {
  const s = await garbageSetup();
  const b = await connect(url, s.bob.token);
  const check = checker(b);
  const I = ['invalid'];
  const NF = ['not_found', 'forbidden'];
  const cases = [
    [42, I],
    ['x', I],
    [true, I],
    [[], I],
    [[s.m.conversationId], I],
    [{ conversationId: 'abc' }, I],
    [{ conversationId: {} }, I],
    [{ conversationId: true }, I],
    [{ conversationId: -1 }, ['invalid', 'not_found']],
    [{ conversationId: 987654321 }, NF],
  ];
  for (const [payload, codes] of cases) await check.fails('fetch_unread_messages', payload, codes);
  await check.noExtraErrors();

  const c = checker(await connect(url, s.carol.token));
  await c.fails('fetch_unread_messages', { conversationId: s.m.conversationId }, NF);
  await c.noExtraErrors();

  // The failed fetches did not consume anything.
  const f = await emitAck(b, 'fetch_unread_messages', {});
  assert.deepEqual(new Set(f?.messages?.map((x) => x.id)), new Set([s.m.id, s.fromCarol.id]), show(f));
  await stillWorks(s);
});

test('fetch_unread_messages with a null payload is invalid (and consumes nothing)', T, async () => {
  // The brief lists null among the garbage payloads for every event; only
  // "{}" / "{conversationId}" (or no payload at all) are valid fetches.
  const s = await garbageSetup();
  const b = await connect(url, s.bob.token);
  const check = checker(b);
  await check.fails('fetch_unread_messages', null, ['invalid']);
  await check.noExtraErrors();
  const f = await emitAck(b, 'fetch_unread_messages', {});
  assert.deepEqual(new Set(f?.messages?.map((x) => x.id)), new Set([s.m.id, s.fromCarol.id]), show(f));
});

test('join garbage payloads each get an error; another user\'s id is forbidden', T, async () => {
  const s = await garbageSetup();
  const a = await connect(url, s.alice.token);
  const check = checker(a);
  const I = ['invalid'];
  const cases = [
    [NO_PAYLOAD, I],
    [null, I],
    [1, I],
    ['x', I],
    [true, I],
    [[], I],
    [[s.alice.id], I],
    [{}, I],
    [{ userId: 'x' }, I],
    [{ userId: String(s.alice.id) + 'x' }, I],
    [{ userId: null }, I],
    [{ userId: {} }, I],
    [{ userId: s.bob.id }, ['forbidden']],
    [{ userId: 987654321 }, ['forbidden', 'not_found']],
  ];
  for (const [payload, codes] of cases) await check.fails('join', payload, codes);
  await check.noExtraErrors();
  assertOk(await emitAck(a, 'join', { userId: s.alice.id }));
  await stillWorks(s);
});

test('typing garbage payloads each get an error and relay nothing', T, async () => {
  const s = await garbageSetup();
  const a = await connect(url, s.alice.token);
  const bTyping = record(s.b, 'typing');
  const check = checker(a);
  const conv = s.m.conversationId;
  const I = ['invalid'];
  const NF = ['not_found', 'forbidden'];
  const cases = [
    [NO_PAYLOAD, I],
    [null, I],
    [7, I],
    ['x', I],
    [true, I],
    [[], I],
    [[conv, true], I],
    [{}, I],
    [{ conversationId: conv }, I],
    [{ isTyping: true }, I],
    [{ conversationId: conv, isTyping: 'yes' }, I],
    [{ conversationId: conv, isTyping: null }, I],
    [{ conversationId: 'x', isTyping: true }, I],
    [{ conversationId: 987654321, isTyping: true }, NF],
    [{ conversationId: s.fromCarol.conversationId, isTyping: true }, NF],
  ];
  for (const [payload, codes] of cases) await check.fails('typing', payload, codes);
  await check.noExtraErrors();
  await settle();
  assert.deepEqual(bTyping.items, [], `garbage typing was relayed: ${show(bTyping.items)}`);
  await stillWorks(s);
});

test('unknown events get invalid', T, async () => {
  const s = await garbageSetup();
  const a = await connect(url, s.alice.token);
  const check = checker(a);
  for (const event of ['bogus_event', 'SEND_MESSAGE', 'receive_message', 'message_status', 'presence', 'send message', 'x'.repeat(300)]) {
    await check.fails(event, { receiverId: s.bob.id, message: 'hi' }, ['invalid']);
  }
  await check.fails('bogus_event', NO_PAYLOAD, ['invalid']);
  await check.noExtraErrors();
  await stillWorks(s);
});

test('a message text far over the limit but under the packet limit is too_large; the socket stays open', T, async () => {
  const s = await garbageSetup();
  const a = await connect(url, s.alice.token, { transports: ['websocket'] });
  const check = checker(a);
  await check.fails('send_message', { receiverId: s.bob.id, message: 'w'.repeat(900_000) }, ['too_large']);
  await check.noExtraErrors();
  assert.ok(a.connected);
  const ok = await emitAck(a, 'send_message', { receiverId: s.bob.id, message: 'small again', clientMsgId: uniqueId() });
  assert.ok(ok?.message, show(ok));
});

for (const transports of [['websocket'], ['polling']]) {
  test(`a packet over 1,000,000 bytes closes that connection only (${transports[0]})`, T, async () => {
    const s = await garbageSetup();
    const big = await connect(url, s.alice.token, { transports });
    const bystander = await connect(url, s.bob.token, { transports: ['websocket'] });
    const bystanderDisc = [];
    bystander.on('disconnect', (r) => bystanderDisc.push(r));
    const gone = waitForDisconnect(big, 10_000);
    big.emit('send_message', { receiverId: s.bob.id, message: 'v'.repeat(1_200_000), clientMsgId: uniqueId() });
    await gone;
    assert.equal(big.connected, false);

    await settle();
    assert.deepEqual(bystanderDisc, [], 'another client was disconnected');
    const unread = await emitAck(bystander, 'fetch_unread_messages', {});
    assert.ok(Array.isArray(unread?.messages), show(unread));
    assert.equal(unread.messages.some((m) => m.message.length > 4000), false, 'the oversized message was stored');
    await stillWorks(s);
  });
}
