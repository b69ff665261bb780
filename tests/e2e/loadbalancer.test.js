// The load-balancer configuration of the compose cluster (deploy/haproxy.cfg),
// run with the real haproxy binary in front of two real Confab nodes in
// cluster mode (PostgreSQL + Redis on 127.0.0.1, a fresh database and key
// prefix). socket.io-client goes through HAProxy over long-polling (which only
// works if every request of a session reaches the same node: the sticky
// cookie) and over WebSocket, and a message crosses from one node to the other.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startServer, newUser, connect, closeAllSockets, emitAck, waitFor, makeTempDir, uniqueId, TEST_LOG,
} from './harness.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const PG_BASE = process.env.TEST_PG_BASE || 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const T = { timeout: 60_000 };

function haproxyBin() {
  for (const p of ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy']) {
    if (existsSync(p)) return p;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v haproxy']).toString().trim();
  } catch {
    throw new Error('haproxy is not installed (apt-get install haproxy; .ci/run installs it)');
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let dbName;
let nodes = [];
let metricsPorts = [];
let haproxy;
let haproxyOut = '';
let lb;

async function socketsOn(i) {
  const res = await fetch(`http://127.0.0.1:${metricsPorts[i]}/metrics`);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith('confab_connected_sockets '));
  return line ? Number(line.split(' ')[1]) : 0;
}

async function until(what, check, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last === true) return;
    } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last})\n${haproxyOut}`);
}

before(async () => {
  dbName = `e2e_lb_${process.pid}_${Date.now()}`;
  execFileSync('psql', [`${PG_BASE}/postgres`, '-qc', `CREATE DATABASE ${dbName}`]);
  const dbUrl = `${PG_BASE}/${dbName}`;
  // The nodes share one data directory, as in deploy/compose.yaml (media, VAPID key).
  const dataDir = makeTempDir();
  for (let i = 0; i < 2; i++) {
    metricsPorts.push(await freePort());
    nodes.push(await startServer({
      dataDir,
      args: ['--database-url', dbUrl, '--redis-url', REDIS_URL],
      env: {
        CONFAB_CLUSTER__REDIS_PREFIX: dbName,
        CONFAB_METRICS_LISTEN: `127.0.0.1:${metricsPorts[i]}`,
        CONFAB_TRUSTED_PROXIES: '["127.0.0.1"]',
      },
    }));
  }
  const lbPort = await freePort();
  const shipped = readFileSync(path.join(REPO, 'deploy', 'haproxy.cfg'), 'utf8');
  const cfg = shipped
    .replace(/(server node1 )confab1:8080/, (_, p) => `${p}127.0.0.1:${nodes[0].port}`)
    .replace(/(server node2 )confab2:8080/, (_, p) => `${p}127.0.0.1:${nodes[1].port}`)
    .replace(/^(\s*)bind :8080$/m, `$1bind 127.0.0.1:${lbPort}`)
    .replace('inter 2s', 'inter 300ms');
  assert.ok(!/server node\d confab/.test(cfg) && !/^\s*bind :8080$/m.test(cfg), 'the test config points at the test nodes');
  const file = path.join(makeTempDir('confab-haproxy-'), 'haproxy.cfg');
  writeFileSync(file, cfg);
  const bin = haproxyBin();
  execFileSync(bin, ['-c', '-q', '-f', file]); // the shipped file must be valid as is
  haproxy = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [haproxy.stdout, haproxy.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (c) => { haproxyOut = (haproxyOut + c).slice(-8000); if (TEST_LOG) process.stderr.write(c); });
  }
  lb = `http://127.0.0.1:${lbPort}`;
  await until('HAProxy serves /readyz', async () => (await fetch(`${lb}/readyz`)).status === 200);
});

afterEach(() => closeAllSockets());

after(async () => {
  closeAllSockets();
  if (haproxy) haproxy.kill('SIGKILL');
  for (const n of nodes) await n.stop();
  if (dbName) {
    try {
      execFileSync('psql', [`${PG_BASE}/postgres`, '-qc', `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`]);
    } catch { /* best effort */ }
  }
});

test('HAProxy sets the sticky cookie and health-checks /readyz', T, async () => {
  const res = await fetch(`${lb}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const cookie = res.headers.get('set-cookie') || '';
  assert.match(cookie, /CONFAB_NODE=node[12]/, `set-cookie: ${cookie}`);
  await res.text();
});

test('long-polling through HAProxy: a whole conversation, every request on its node', T, async () => {
  const a = await newUser(lb, 'lbpa');
  const b = await newUser(lb, 'lbpb');
  const opts = { transports: ['polling'], withCredentials: true };
  const sa = await connect(lb, a.token, opts);
  const sb = await connect(lb, b.token, opts);
  for (let i = 0; i < 5; i++) {
    const got = waitFor(sb, 'receive_message', (m) => m.message === `poll ${i}`, 5000, { ack: {} });
    const ack = await emitAck(sa, 'send_message', { receiverId: b.id, message: `poll ${i}`, clientMsgId: uniqueId() });
    assert.ok(ack.message?.id, JSON.stringify(ack));
    await got;
  }
  assert.equal(sa.io.engine.transport.name, 'polling');
  assert.ok(sa.connected && sb.connected, 'no session was lost to the other node');
});

test('WebSocket through HAProxy: a message crosses from one node to the other', T, async () => {
  await until('no sockets left from other tests', async () => (await socketsOn(0)) + (await socketsOn(1)) === 0);
  const a = await newUser(lb, 'lbwa');
  const b = await newUser(lb, 'lbwb');
  const sa = await connect(lb, a.token, { transports: ['websocket'] });
  const sb = await connect(lb, b.token, { transports: ['websocket'] });
  // Round robin: consecutive new connections go to different nodes.
  await until('one socket on each node', async () => (await socketsOn(0)) === 1 && (await socketsOn(1)) === 1);
  const got = waitFor(sb, 'receive_message', (m) => m.message === 'across', 5000, { ack: {} });
  const ack = await emitAck(sa, 'send_message', { receiverId: b.id, message: 'across', clientMsgId: uniqueId() });
  const m = await got;
  assert.equal(m.id, ack.message.id);
  assert.equal(m.senderId, a.id);
  // And the default transport (polling, then the upgrade) works through it too.
  const sc = await connect(lb, a.token, { withCredentials: true });
  const back = waitFor(sc, 'receive_message', (x) => x.message === 'back', 5000, { ack: {} });
  await emitAck(sb, 'send_message', { receiverId: a.id, message: 'back', clientMsgId: uniqueId() });
  await back;
});
