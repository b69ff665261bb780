// Test harness for the Confab end-to-end suite.
//
// Spawns the real server binary on a free port with a fresh data directory and
// drives it with the unmodified `socket.io-client` from npm and Node's global
// fetch. Every wait here has a timeout: a missing event fails the test, it never
// hangs it.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

export const CONFAB_BIN = process.env.E2E_CONFAB_BIN || path.join(REPO, 'target', 'debug', 'confab');
export const TEST_LOG = process.env.TEST_LOG === '1';
export const DEFAULT_PASSWORD = 'correct horse battery';

/** Every error code the contract allows on the Socket.IO side. */
export const ERROR_CODES = [
  'unauthorized', 'forbidden', 'invalid', 'not_found', 'too_large', 'rate_limited', 'internal',
];

const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

// ---------------------------------------------------------------------------
// Server process

const liveServers = new Set();
const createdDirs = new Set();

process.on('exit', () => {
  for (const s of liveServers) {
    try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  if (process.env.KEEP_DATA !== '1') {
    for (const d of createdDirs) {
      try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
    }
  }
});

/** A fresh temporary directory, removed when the test process exits. */
export function makeTempDir(prefix = 'confab-e2e-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  createdDirs.add(dir);
  return dir;
}

function tail(s, n = 4000) {
  return s.length > n ? '…' + s.slice(-n) : s;
}

/**
 * Start `confab serve --listen 127.0.0.1:0 --data-dir <dir>` and wait for the
 * "confab listening on http://127.0.0.1:PORT" line on stdout.
 *
 * @returns {Promise<{url:string, port:number, dataDir:string, proc:import('node:child_process').ChildProcess,
 *   stop:()=>Promise<{code:number|null, signal:string|null, killed:boolean}>, output:()=>string}>}
 */
export async function startServer({ dataDir, env = {}, args = [], listen = '127.0.0.1:0' } = {}) {
  dataDir ??= makeTempDir();
  // Run in an empty working directory so a stray ./confab.toml is never picked up.
  const cwd = makeTempDir('confab-e2e-cwd-');
  const argv = ['serve', '--listen', listen, '--data-dir', dataDir, ...args];
  const proc = spawn(CONFAB_BIN, argv, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let stdout = '';
  let stderr = '';
  let exitInfo = null;
  let spawnError = null;
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      liveServers.delete(server);
      resolve(exitInfo);
    });
    // A binary that cannot be spawned emits 'error' and possibly no 'exit'.
    proc.once('error', (err) => {
      spawnError = err;
      if (proc.pid === undefined) {
        exitInfo = { code: null, signal: null };
        liveServers.delete(server);
        resolve(exitInfo);
      }
    });
  });

  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    stderr = tail(stderr + chunk, 64_000);
    if (TEST_LOG) process.stderr.write(chunk);
  });

  const lines = createInterface({ input: proc.stdout });
  const server = {
    url: null,
    port: null,
    dataDir,
    proc,
    output: () => `--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${tail(stderr)}`,
    exited,
    async stop() {
      if (exitInfo) return { ...exitInfo, killed: false };
      proc.kill('SIGTERM');
      let timer;
      const timedOut = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_GRACE_MS);
      });
      const first = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (first === 'timeout') {
        proc.kill('SIGKILL');
        const info = await exited;
        return { ...info, killed: true };
      }
      return { ...first, killed: false };
    },
  };
  liveServers.add(server);

  const ready = new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      stdout = tail(stdout + line + '\n', 64_000);
      if (TEST_LOG) process.stderr.write(`[confab stdout] ${line}\n`);
      const m = /confab listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(line);
      if (m && !server.url) {
        server.url = m[1];
        server.port = Number(m[2]);
        resolve();
      }
    });
    exited.then(({ code, signal }) => {
      if (spawnError) {
        reject(new Error(`cannot spawn ${CONFAB_BIN} (set E2E_CONFAB_BIN or build the server): ${spawnError.message}`));
      } else {
        reject(new Error(`confab exited before listening (code ${code}, signal ${signal})\n${server.output()}`));
      }
    });
  });

  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(
      `confab did not print its listening line within ${START_TIMEOUT_MS} ms\n${server.output()}`,
    )), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    await server.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return server;
}

// ---------------------------------------------------------------------------
// HTTP

/**
 * A JSON request. Returns {status, body, headers}; body is parsed JSON when
 * possible, the raw text otherwise (null when empty).
 */
export async function api(url, method, route, { token, body, headers = {}, rawBody } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload;
  if (rawBody !== undefined) {
    payload = rawBody;
    h['content-type'] ??= 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const res = await fetch(url + route, {
    method,
    headers: h,
    body: payload,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed = null;
  if (text.length > 0) {
    try { parsed = JSON.parse(text); } catch { parsed = text; }
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

let nameCounter = 0;
/** A username unique to this run: prefix + random suffix, at most 32 chars. */
export function uniqueName(prefix = 'u') {
  nameCounter += 1;
  const suffix = randomBytes(4).toString('hex') + nameCounter.toString(36);
  return `${prefix.slice(0, 16)}_${suffix}`.slice(0, 32);
}

export function uniqueId(prefix = 'cmid') {
  return `${prefix}-${randomBytes(8).toString('hex')}`;
}

/** POST /api/auth/register; asserts 201 and returns {user, token}. */
export async function register(url, username, password = DEFAULT_PASSWORD, displayName) {
  const body = { username, password };
  if (displayName !== undefined) body.displayName = displayName;
  const res = await api(url, 'POST', '/api/auth/register', { body });
  if (res.status !== 201) {
    throw new Error(`register ${username}: expected 201, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** POST /api/auth/login; asserts 200 and returns {user, token}. */
export async function login(url, username, password = DEFAULT_PASSWORD) {
  const res = await api(url, 'POST', '/api/auth/login', { body: { username, password } });
  if (res.status !== 200) {
    throw new Error(`login ${username}: expected 200, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** Register a fresh unique user: {id, username, password, token, user}. */
export async function newUser(url, prefix = 'user') {
  const username = uniqueName(prefix);
  const { user, token } = await register(url, username);
  return { id: user.id, username, password: DEFAULT_PASSWORD, token, user };
}

/** Messages of a conversation via REST, newest first (asserts 200). */
export async function history(url, token, conversationId, query = '') {
  const res = await api(url, 'GET', `/api/conversations/${conversationId}/messages${query}`, { token });
  if (res.status !== 200) {
    throw new Error(`history ${conversationId}: expected 200, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body.messages;
}

/** GET /api/conversations (asserts 200). */
export async function conversations(url, token) {
  const res = await api(url, 'GET', '/api/conversations', { token });
  if (res.status !== 200) {
    throw new Error(`conversations: expected 200, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body.conversations;
}

// ---------------------------------------------------------------------------
// Socket.IO

const openSockets = new Set();

/**
 * Connect with `auth: {token}` (omitted when token is undefined). Resolves with
 * the connected socket or rejects with the connect_error (timeout 5 s).
 * Reconnection is off so tests are deterministic.
 */
export function connect(url, token, opts = {}, timeoutMs = 5000) {
  const { auth, ...rest } = opts;
  const socket = io(url, {
    auth: auth ?? (token === undefined ? {} : { token }),
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
    ...rest,
  });
  openSockets.add(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      socket.close();
      openSockets.delete(socket);
      reject(new Error(`socket did not connect within ${timeoutMs} ms`));
    }, timeoutMs);
    const onConnect = () => { cleanup(); resolve(socket); };
    const onError = (err) => {
      cleanup();
      socket.close();
      openSockets.delete(socket);
      reject(err);
    };
    function cleanup() {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    }
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
}

/** Close every socket opened through `connect` (for after/afterEach hooks). */
export function closeAllSockets() {
  for (const s of openSockets) {
    try { s.close(); } catch { /* ignore */ }
  }
  openSockets.clear();
}

/**
 * Emit with an acknowledgement; resolves with the ack value, rejects on timeout.
 * `payload === NO_PAYLOAD` emits the event with no argument at all.
 */
export const NO_PAYLOAD = Symbol('no payload');
export function emitAck(socket, event, payload, timeoutMs = 5000) {
  const s = socket.timeout(timeoutMs);
  const p = payload === NO_PAYLOAD ? s.emitWithAck(event) : s.emitWithAck(event, payload);
  return p.catch((err) => {
    throw new Error(`no ack for "${event}" ${describe(payload)} within ${timeoutMs} ms (${err.message})`);
  });
}

function describe(v) {
  if (v === NO_PAYLOAD) return '(no payload)';
  let s;
  try { s = JSON.stringify(v); } catch { s = String(v); }
  if (s === undefined) s = String(v);
  return s.length > 200 ? s.slice(0, 200) + '…' : s;
}

/**
 * Resolve with the payload of the first `event` on `socket` (after this call)
 * that matches `predicate`; reject after `timeoutMs`.
 * With `{ack}` set, an acknowledgement requested by the server is answered with
 * that value (for the matching event).
 */
export function waitFor(socket, event, predicate = () => true, timeoutMs = 5000, { ack } = {}) {
  return new Promise((resolve, reject) => {
    const seen = [];
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(
        `timed out after ${timeoutMs} ms waiting for "${event}"` +
        (seen.length ? `; saw non-matching: ${seen.map(describe).join(', ')}` : '; none arrived'),
      ));
    }, timeoutMs);
    function listener(...args) {
      const cb = typeof args.at(-1) === 'function' ? args.pop() : null;
      const payload = args[0];
      let ok = false;
      try { ok = predicate(payload); } catch { ok = false; }
      if (!ok) { seen.push(payload); return; }
      clearTimeout(timer);
      socket.off(event, listener);
      if (cb && ack !== undefined) cb(ack);
      resolve(payload);
    }
    socket.on(event, listener);
  });
}

/**
 * Record every `event` on `socket` from now on. With `ack` set, server ack
 * requests are answered with that value (e.g. to mark receive_message
 * delivered). `next(pred)` resolves with the first recorded or future match.
 */
export function record(socket, event, { ack } = {}) {
  const items = [];
  const waiters = new Set();
  function listener(...args) {
    const cb = typeof args.at(-1) === 'function' ? args.pop() : null;
    const payload = args[0];
    items.push(payload);
    if (cb && ack !== undefined) cb(ack);
    for (const w of [...waiters]) {
      let ok = false;
      try { ok = w.pred(payload); } catch { ok = false; }
      if (ok) { waiters.delete(w); clearTimeout(w.timer); w.resolve(payload); }
    }
  }
  socket.on(event, listener);
  return {
    items,
    matching(pred = () => true) { return items.filter((p) => { try { return pred(p); } catch { return false; } }); },
    count(pred = () => true) { return this.matching(pred).length; },
    next(pred = () => true, timeoutMs = 5000) {
      const found = this.matching(pred)[0];
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(
            `timed out after ${timeoutMs} ms waiting for "${event}"; recorded: ` +
            (items.length ? items.map(describe).join(', ') : 'nothing'),
          ));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    /** Resolve once at least n matching events have been recorded. */
    async atLeast(n, pred = () => true, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (this.count(pred) < n) {
        if (Date.now() > deadline) {
          throw new Error(`expected at least ${n} "${event}" events, got ${this.count(pred)} within ${timeoutMs} ms`);
        }
        await sleep(20);
      }
      return this.matching(pred);
    },
    stop() { socket.off(event, listener); },
  };
}

/** Resolve on the socket's next disconnect (reject after timeoutMs). */
export function waitForDisconnect(socket, timeoutMs = 5000) {
  if (socket.disconnected && !socket.active) return Promise.resolve('already disconnected');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('disconnect', onDisc);
      reject(new Error(`socket was not disconnected within ${timeoutMs} ms`));
    }, timeoutMs);
    function onDisc(reason) { clearTimeout(timer); resolve(reason); }
    socket.once('disconnect', onDisc);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Short pause before asserting that something did NOT arrive. */
export const SETTLE_MS = 400;
export const settle = (ms = SETTLE_MS) => sleep(ms);

/** Retry `fn` until it returns truthy or the deadline passes. */
export async function eventually(fn, { timeoutMs = 5000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : describe(last)})`);
    }
    await sleep(intervalMs);
  }
}

/** The `error.code` of an ack, or undefined. */
export function ackCode(ack) {
  return ack && typeof ack === 'object' && ack.error && typeof ack.error === 'object' ? ack.error.code : undefined;
}

// ---------------------------------------------------------------------------
// Shape checks shared by the test files

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** True when `s` is an ISO 8601 / RFC 3339 timestamp string. */
export function isIsoTime(s) {
  return typeof s === 'string' && ISO_RE.test(s) && !Number.isNaN(Date.parse(s));
}

/**
 * Problems with a Message object (as in the send_message ack and REST), []
 * when it matches the contract: {id, conversationId, senderId, receiverId,
 * message, createdAt, status, clientMsgId, seq}.
 */
export function messageProblems(m, { withStatus = true } = {}) {
  const p = [];
  if (!m || typeof m !== 'object' || Array.isArray(m)) return [`not an object: ${describe(m)}`];
  for (const k of ['id', 'conversationId', 'senderId', 'receiverId', 'seq']) {
    if (!Number.isInteger(m[k]) || m[k] <= 0) p.push(`${k} should be a positive integer, got ${describe(m[k])}`);
  }
  if (typeof m.message !== 'string') p.push(`message should be a string, got ${describe(m.message)}`);
  if (!isIsoTime(m.createdAt)) p.push(`createdAt should be an ISO time, got ${describe(m.createdAt)}`);
  if (withStatus && !['sent', 'delivered', 'read'].includes(m.status)) {
    p.push(`status should be sent|delivered|read, got ${describe(m.status)}`);
  }
  if (withStatus && !('clientMsgId' in m)) p.push('clientMsgId missing');
  return p;
}

/** The listed keys of an object (extra fields a server adds are not a contract break). */
export function pick(obj, keys) {
  if (!obj || typeof obj !== 'object') return obj;
  return Object.fromEntries(keys.filter((k) => k in obj).map((k) => [k, obj[k]]));
}

/** An ack that the contract says is {"ok": true} (extra fields tolerated). */
export function isOkAck(ack) {
  return !!ack && typeof ack === 'object' && ack.ok === true && ack.error === undefined;
}

/** Assert an {ok:true} ack. */
export function assertOk(ack, what = 'ack') {
  assert.ok(isOkAck(ack), `${what}: expected {ok:true}, got ${JSON.stringify(ack)}`);
}
