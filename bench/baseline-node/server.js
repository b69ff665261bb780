'use strict';

// Confab's client contract on the stack a team would pick from the design:
// Express + Socket.IO 4 (Redis adapter, node-redis) + PostgreSQL (pg).
//
//   PORT=0 DATABASE_URL=postgres://... REDIS_URL=redis://... node server.js

const http = require('node:http');
const express = require('express');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const { createPool, migrate } = require('./db');
const { Auth } = require('./auth');
const { Chat } = require('./chat');
const { setupRealtime, Presence } = require('./realtime');
const { ApiError, toApiError } = require('./errors');

const config = {
  host: process.env.HOST || '127.0.0.1',
  port: Number(process.env.PORT ?? 8080),
  databaseUrl: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/confab_baseline',
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  redisPrefix: process.env.REDIS_PREFIX || 'baseline',
};

/** The REST routes, as a router mounted on the app that Socket.IO shares the server with. */
function api(auth, chat, presence, hooks) {
  const app = express.Router();
  app.use(express.json({ limit: '256kb' }));

  const authenticated = async (req, res, next) => {
    const m = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '');
    const session = m && (await auth.authenticate(m[1]));
    if (!session) throw new ApiError('unauthorized', 'missing, invalid or expired token');
    req.session = session;
    req.user = session.user;
    next();
  };

  app.get('/healthz', (req, res) => res.type('text').send('ok'));
  app.post('/api/auth/register', async (req, res) => res.status(201).json(await auth.register(req.body)));
  app.post('/api/auth/login', async (req, res) => res.json(await auth.login(req.body)));
  app.post('/api/auth/logout', authenticated, async (req, res) => {
    await auth.revoke(req.session.hash);
    hooks.disconnectToken(req.session.hash);
    res.status(204).end();
  });
  app.get('/api/users/me', authenticated, (req, res) => res.json({ user: req.user }));
  app.get('/api/users/:id', authenticated, async (req, res) => {
    const user = await auth.userById(Number(req.params.id));
    if (!user) throw new ApiError('not_found', 'no such user');
    res.json({ user: { ...user, ...(await presence.of(user.id)) } });
  });
  app.post('/api/conversations', authenticated, async (req, res) =>
    res.status(201).json(await chat.createGroup(req.user, req.body)),
  );
  app.post('/api/messages', authenticated, async (req, res) =>
    res.status(201).json(await chat.send(req.user, req.body)),
  );

  app.use((req, res) => res.status(404).json(new ApiError('not_found', 'no such route')));
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    const e = err.type === 'entity.parse.failed' ? new ApiError('invalid', 'malformed JSON')
      : err.type === 'entity.too.large' ? new ApiError('too_large', 'body over the limit')
        : toApiError(err);
    res.status(e.status).json(e);
  });
  return app;
}

async function main() {
  const pool = createPool(config.databaseUrl);
  await migrate(pool);

  const pub = createClient({ url: config.redisUrl });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on('error', (err) => console.error('redis:', err.message));
  await Promise.all([pub.connect(), sub.connect()]);

  const app = express();
  app.disable('x-powered-by');
  // The app is the server's request listener before Socket.IO attaches (and takes /socket.io/).
  const server = http.createServer(app);
  const io = new Server(server, {
    serveClient: false,
    adapter: createAdapter(pub, sub, { key: `${config.redisPrefix}:socket.io` }),
  });
  const auth = new Auth(pool);
  const presence = new Presence(pub, config.redisPrefix);
  let chat;
  const hooks = setupRealtime(io, { auth, presence, getChat: () => chat });
  chat = new Chat(pool, hooks);
  hooks.onTokenRevoked((hash) => auth.forget(hash));
  app.use(api(auth, chat, presence, hooks));

  await new Promise((resolve) => server.listen(config.port, config.host, resolve));
  console.log(`baseline listening on http://${config.host}:${server.address().port}`);

  const shutdown = async () => {
    setTimeout(() => process.exit(0), 3000).unref();
    io.close();
    await chat.receipts.flush();
    await Promise.allSettled([pool.end(), pub.quit(), sub.quit()]);
    process.exit(0);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err) => {
  console.error('baseline failed to start:', err);
  process.exit(1);
});
