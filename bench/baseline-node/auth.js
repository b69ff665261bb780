'use strict';

// Accounts and tokens: scrypt password hashes (node's built-in crypto, no native
// addon), opaque random tokens stored as SHA-256 and answered from an in-memory cache.

const crypto = require('node:crypto');
const { promisify } = require('node:util');
const { ApiError } = require('./errors');

const scrypt = promisify(crypto.scrypt);
// 16 MiB, ~50 ms here: about the cost of Confab's Argon2id defaults (m=19 MiB, t=2).
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LEN = 32;
const TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;
const CACHE_MAX = 100_000;
const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;

async function hashPassword(password) {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

async function verifyPassword(password, stored) {
  const [, N, r, p, salt, key] = stored.split('$');
  const expected = Buffer.from(key, 'base64');
  const got = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(N), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem,
  });
  return crypto.timingSafeEqual(got, expected);
}

const sha256 = (token) => crypto.createHash('sha256').update(token).digest('hex');

const userView = (row) => ({ id: row.id, username: row.username, displayName: row.display_name });

class Auth {
  constructor(pool) {
    this.pool = pool;
    this.cache = new Map(); // token hash -> { user, hash, expiresAt (ms) }
    // Hashed once, so a login for an unknown user costs what a wrong password costs.
    this.dummyHash = hashPassword('not a real password');
  }

  async register(body) {
    const { username, password } = body ?? {};
    const displayName = body?.displayName ?? username;
    if (typeof username !== 'string' || !USERNAME.test(username)) {
      throw new ApiError('invalid', '`username`: 3-32 letters, digits, `_`, `.` or `-`');
    }
    if (typeof password !== 'string' || password.length < 8 || password.length > 256) {
      throw new ApiError('invalid', '`password`: 8-256 characters');
    }
    if (typeof displayName !== 'string' || displayName.trim().length < 1 || displayName.length > 64) {
      throw new ApiError('invalid', '`displayName`: 1-64 characters');
    }
    const hash = await hashPassword(password);
    const { rows } = await this.pool.query({
      name: 'user-insert',
      text: `INSERT INTO users (username, display_name, password_hash) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING RETURNING id, username, display_name`,
      values: [username, displayName.trim(), hash],
    });
    if (rows.length === 0) throw new ApiError('conflict', 'username taken');
    const user = userView(rows[0]);
    return { user, token: await this.issueToken(user) };
  }

  async login(body) {
    const { username, password } = body ?? {};
    if (typeof username !== 'string' || typeof password !== 'string') {
      throw new ApiError('invalid', '`username` and `password` are required');
    }
    const { rows } = await this.pool.query({
      name: 'user-by-name',
      text: 'SELECT id, username, display_name, password_hash FROM users WHERE lower(username) = lower($1)',
      values: [username],
    });
    const ok = await verifyPassword(password, rows[0]?.password_hash ?? (await this.dummyHash));
    if (!rows[0] || !ok) throw new ApiError('unauthorized', 'wrong username or password');
    const user = userView(rows[0]);
    return { user, token: await this.issueToken(user) };
  }

  async issueToken(user) {
    const token = crypto.randomBytes(32).toString('base64url');
    const hash = sha256(token);
    const expiresAt = Date.now() + TOKEN_TTL_MS;
    await this.pool.query({
      name: 'token-insert',
      text: 'INSERT INTO tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)',
      values: [hash, user.id, new Date(expiresAt)],
    });
    this.remember({ user, hash, expiresAt });
    return token;
  }

  /** The session of a token ({user, hash, expiresAt}), or null. */
  async authenticate(token) {
    if (typeof token !== 'string' || token.length === 0 || token.length > 256) return null;
    const hash = sha256(token);
    let session = this.cache.get(hash);
    if (!session) {
      const { rows } = await this.pool.query({
        name: 'token-lookup',
        text: `SELECT u.id, u.username, u.display_name, t.expires_at
               FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1`,
        values: [hash],
      });
      if (rows.length === 0) return null;
      session = { user: userView(rows[0]), hash, expiresAt: rows[0].expires_at.getTime() };
      this.remember(session);
    }
    if (session.expiresAt <= Date.now()) {
      this.cache.delete(hash);
      return null;
    }
    return session;
  }

  async userById(id) {
    if (!Number.isSafeInteger(id) || id <= 0) return null;
    const { rows } = await this.pool.query({
      name: 'user-by-id',
      text: 'SELECT id, username, display_name FROM users WHERE id = $1',
      values: [id],
    });
    return rows[0] ? userView(rows[0]) : null;
  }

  /** Deletes a token; returns its hash (the caller disconnects its sockets on every node). */
  async revoke(hash) {
    await this.pool.query({ name: 'token-delete', text: 'DELETE FROM tokens WHERE token_hash = $1', values: [hash] });
    this.forget(hash);
  }

  forget(hash) {
    this.cache.delete(hash);
  }

  remember(session) {
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value);
    this.cache.set(session.hash, session);
  }
}

module.exports = { Auth };
