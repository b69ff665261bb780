// Attachments with the unmodified socket.io-client: upload over REST
// (multipart, as a browser's FormData sends it), send with `attachments`,
// receive live and in the unread fetch, fetch the bytes as the recipient.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, newUser, connect, closeAllSockets, emitAck, waitFor, uniqueId,
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

// A 1×1 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

async function upload(token, name, bytes, type) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  const res = await fetch(`${url}/api/media`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: res.status, body: await res.json() };
}

test('a photo goes from upload to the recipient, live and after reconnect', T, async () => {
  const alice = await newUser(url, 'alice');
  const bob = await newUser(url, 'bob');
  const up = await upload(alice.token, 'dot.png', PNG, 'image/png');
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const media = up.body.media;
  assert.deepEqual(
    { mime: media.mime, size: media.size, name: media.name, width: media.width, height: media.height, kind: media.kind },
    { mime: 'image/png', size: PNG.length, name: 'dot.png', width: 1, height: 1, kind: 'image' },
  );

  const a = await connect(url, alice.token);
  const ack = await emitAck(a, 'send_message', { receiverId: bob.id, attachments: [{ id: media.id }], clientMsgId: uniqueId() });
  assert.ok(ack.message, JSON.stringify(ack));
  assert.equal(ack.message.message, '');
  assert.equal(ack.message.attachments[0].id, media.id);

  // Offline: the unread fetch carries it.
  const b = await connect(url, bob.token);
  const unread = await emitAck(b, 'fetch_unread_messages', {});
  const att = unread.messages[0].attachments[0];
  for (const k of ['id', 'url', 'mime', 'size', 'name', 'width', 'height', 'thumbnailUrl']) assert.ok(k in att, `attachment has ${k}`);

  // Live: receive_message carries it.
  const live = waitFor(b, 'receive_message');
  await emitAck(a, 'send_message', { receiverId: bob.id, message: 'again', attachments: [{ id: media.id }], clientMsgId: uniqueId() });
  const got = await live;
  assert.equal(got.attachments[0].url, att.url);

  // The recipient fetches the bytes; a stranger cannot.
  const mine = await fetch(url + att.url, { headers: { authorization: `Bearer ${bob.token}` } });
  assert.equal(mine.status, 200);
  assert.deepEqual(Buffer.from(await mine.arrayBuffer()), PNG);
  const eve = await newUser(url, 'eve');
  const theirs = await fetch(url + att.url, { headers: { authorization: `Bearer ${eve.token}` } });
  assert.equal(theirs.status, 404);
});
