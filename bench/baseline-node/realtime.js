'use strict';

// The Socket.IO side: handshake auth, per-user rooms (`u:<id>`), presence in Redis,
// the client events, and the fan-out of stored messages across nodes.

const { ApiError, toApiError } = require('./errors');

function bearer(header) {
  const m = /^Bearer (.+)$/i.exec(header ?? '');
  return m ? m[1] : undefined;
}

/** Presence: a per-user count of open sockets in a Redis hash (shared by all nodes). */
class Presence {
  constructor(redis, prefix) {
    this.redis = redis;
    this.online = `${prefix}:presence:online`;
    this.lastSeen = `${prefix}:presence:last_seen`;
  }

  async connected(userId) {
    await this.redis.hIncrBy(this.online, String(userId), 1);
  }

  async disconnected(userId) {
    const left = await this.redis.hIncrBy(this.online, String(userId), -1);
    if (left <= 0) {
      await this.redis.multi().hDel(this.online, String(userId))
        .hSet(this.lastSeen, String(userId), new Date().toISOString()).exec();
    }
  }

  async of(userId) {
    const [count, lastSeen] = await Promise.all([
      this.redis.hGet(this.online, String(userId)),
      this.redis.hGet(this.lastSeen, String(userId)),
    ]);
    const online = Number(count ?? 0) > 0;
    return { online, lastSeen: online ? null : (lastSeen ?? null) };
  }
}

/**
 * Wires the events on `io`. Returns the hooks Chat and the HTTP routes call:
 * deliver (fan-out after a commit), conversationCreated, disconnectToken.
 */
function setupRealtime(io, { auth, presence, getChat }) {
  const sockets = io.of('/');

  io.use(async (socket, next) => {
    const { auth: hsAuth, headers, query } = socket.handshake;
    const token = hsAuth?.token ?? bearer(headers.authorization) ?? query.token;
    try {
      const session = await auth.authenticate(token);
      if (!session) return next(new Error('unauthorized: missing, invalid or expired token'));
      socket.data.user = session.user;
      socket.data.tokenHash = session.hash;
      next();
    } catch (err) {
      console.error('handshake failed:', err);
      next(new Error('internal'));
    }
  });

  io.on('connection', (socket) => {
    const { user, tokenHash } = socket.data;
    socket.join([`u:${user.id}`, `t:${tokenHash}`]);
    presence.connected(user.id).catch((e) => console.error('presence:', e.message));
    socket.on('disconnect', () => {
      presence.disconnected(user.id).catch((e) => console.error('presence:', e.message));
    });

    const chat = getChat();
    handle(socket, 'send_message', (p) => chat.send(user, p, socket.id));
    handle(socket, 'fetch_unread_messages', (p) => chat.fetchUnread(user, p));
    handle(socket, 'mark_read', (p) => chat.markRead(user, p));
    handle(socket, 'join', async (p) => {
      if (p?.userId !== user.id) throw new ApiError('forbidden', '`userId` is not you');
      return { ok: true };
    });
    socket.onAny((event, ...args) => {
      if (!KNOWN.has(event)) reply(socket, args.at(-1), new ApiError('invalid', `unknown event \`${event}\``));
    });
  });

  /** Delivers to this node's sockets of `userIds`, except the socket that sent it. */
  function deliverLocal(message, userIds, exceptSocketId) {
    const chat = getChat();
    for (const userId of userIds) {
      const ids = sockets.adapter.rooms.get(`u:${userId}`);
      if (!ids) continue;
      for (const id of ids) {
        const socket = id !== exceptSocketId && sockets.sockets.get(id);
        if (!socket) continue;
        if (userId === message.senderId) {
          socket.emit('receive_message', message); // the sender's other devices: no receipt
        } else {
          socket.emit('receive_message', message, () =>
            chat.delivered(message.conversationId, userId, message.seq),
          );
        }
      }
    }
  }
  // Other nodes deliver to their own sockets; the Redis adapter carries this event.
  io.on('deliver', deliverLocal);

  return {
    deliver(message, userIds, exceptSocketId) {
      deliverLocal(message, userIds, exceptSocketId);
      io.serverSideEmit('deliver', message, userIds, exceptSocketId);
    },
    conversationCreated(conversation, userIds) {
      io.to(userIds.map((id) => `u:${id}`)).emit('conversation_updated', { conversation });
    },
    /** Logout: forget the token on every node and close its sockets wherever they are. */
    disconnectToken(hash) {
      io.serverSideEmit('token_revoked', hash);
      io.in(`t:${hash}`).disconnectSockets(true);
    },
    onTokenRevoked(fn) {
      io.on('token_revoked', fn);
    },
  };
}

const KNOWN = new Set(['send_message', 'fetch_unread_messages', 'mark_read', 'join']);

/** An event with the documented replies: the result, or {error} in the ack plus an `error` event. */
function handle(socket, event, fn) {
  socket.on(event, async (...args) => {
    const ack = typeof args.at(-1) === 'function' ? args.pop() : null;
    try {
      const result = await fn(args[0]);
      if (ack) ack(result);
    } catch (err) {
      reply(socket, ack, toApiError(err));
    }
  });
}

function reply(socket, ack, err) {
  if (typeof ack === 'function') ack(err.toJSON());
  socket.emit('error', err.toJSON().error);
}

module.exports = { setupRealtime, Presence };
