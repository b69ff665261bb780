'use strict';

// Conversations, messages and receipts on PostgreSQL. Knows nothing of sockets: it
// calls `deliver(message, recipientIds, exceptSocketId)` after a commit.

const { ApiError } = require('./errors');
const { transaction } = require('./db');

const MAX_TEXT = 4000;
const PAGE_MAX = 500;
const GROUP_MAX_MEMBERS = 1000;

const isId = (v) => Number.isSafeInteger(v) && v > 0;

/** A messages row (with sender_name and conv_type) as the API's Message. */
function messageView(row, receiverId) {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    seq: row.seq,
    senderId: row.sender_id,
    senderName: row.sender_name,
    receiverId,
    type: row.type,
    message: row.body,
    createdAt: row.created_at.toISOString(),
    clientMsgId: row.client_msg_id,
    attachments: [],
    status: 'sent',
  };
}

/** What the fan-out needs to know of a conversation; members never change here, so it is cached. */
class Conv {
  constructor(id, type, memberIds) {
    this.id = id;
    this.type = type;
    this.memberIds = memberIds;
  }

  receiverFor(senderId) {
    return this.type === 'direct' ? (this.memberIds.find((m) => m !== senderId) ?? senderId) : null;
  }
}

const MESSAGE_COLUMNS = `m.id, m.conversation_id, m.seq, m.sender_id, u.display_name AS sender_name,
  m.type, m.body, m.created_at, m.client_msg_id`;

class Chat {
  constructor(pool, { deliver, conversationCreated }) {
    this.pool = pool;
    this.deliver = deliver;
    this.conversationCreated = conversationCreated;
    this.convs = new Map(); // id -> Promise<Conv>
    this.directs = new Map(); // 'low:high' -> Promise<Conv>
    this.tails = new Map(); // conversation id -> the last queued send (see `inOrder`)
    this.receipts = new DeliveredBatcher(pool);
  }

  /** send_message: stores (idempotently), fans out, and resolves {message} once committed. */
  async send(user, payload, originSocketId = null) {
    if (payload === null || typeof payload !== 'object') throw new ApiError('invalid', 'payload must be an object');
    const { receiverId, conversationId, message, clientMsgId, senderId } = payload;
    if (senderId != null && senderId !== user.id) throw new ApiError('forbidden', '`senderId` is not you');
    if (typeof message !== 'string' || message.trim() === '') {
      throw new ApiError('invalid', '`message` must be non-blank text');
    }
    if (message.length > MAX_TEXT && [...message].length > MAX_TEXT) {
      throw new ApiError('too_large', `\`message\` is over ${MAX_TEXT} characters`);
    }
    if (clientMsgId != null && (typeof clientMsgId !== 'string' || Buffer.byteLength(clientMsgId) > 128)) {
      throw new ApiError('invalid', '`clientMsgId` must be a string of at most 128 bytes');
    }
    let conv;
    if (conversationId != null) {
      if (!isId(conversationId)) throw new ApiError('invalid', '`conversationId` must be an id');
      conv = await this.conversation(conversationId, user.id);
    } else {
      if (!isId(receiverId)) throw new ApiError('invalid', '`receiverId` or `conversationId` is required');
      if (receiverId === user.id) throw new ApiError('invalid', 'cannot message yourself');
      conv = await this.direct(user.id, receiverId);
    }
    // Same number of awaits on every path above, so one socket's sends reach here in arrival order.
    return this.inOrder(conv.id, async () => {
      const { message: stored, duplicate } = await this.store(conv, user, message, clientMsgId ?? null);
      if (!duplicate) this.deliver(stored, conv.memberIds, originSocketId);
      return { message: stored };
    });
  }

  /**
   * Runs the sends of one conversation one after another on this node. The row lock on
   * the conversation serialises the transactions anyway; queueing here as well makes the
   * fan-out leave in seq order, so every receiver sees seq increase.
   */
  inOrder(convId, fn) {
    const run = (this.tails.get(convId) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => {});
    this.tails.set(convId, tail);
    tail.then(() => {
      if (this.tails.get(convId) === tail) this.tails.delete(convId);
    });
    return run;
  }

  /** One transaction: bump last_seq (also the membership check), insert; a retry finds the original. */
  async store(conv, user, text, clientMsgId) {
    const client = await this.pool.connect();
    let inTx = false;
    let broken;
    try {
      await client.query('BEGIN');
      inTx = true;
      const bump = await client.query({
        name: 'conversation-bump-seq',
        text: `UPDATE conversations c SET last_seq = last_seq + 1
               WHERE c.id = $1 AND EXISTS (SELECT 1 FROM conversation_members m
                                           WHERE m.conversation_id = c.id AND m.user_id = $2)
               RETURNING last_seq`,
        values: [conv.id, user.id],
      });
      if (bump.rowCount === 0) throw new ApiError('forbidden', 'not a member of this conversation');
      const inserted = await client.query({
        name: 'message-insert',
        text: `INSERT INTO messages (conversation_id, seq, sender_id, body, client_msg_id)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (sender_id, client_msg_id) DO NOTHING
               RETURNING id, conversation_id, seq, sender_id, type, body, created_at, client_msg_id`,
        values: [conv.id, bump.rows[0].last_seq, user.id, text, clientMsgId],
      });
      if (inserted.rowCount === 0) {
        // A retry: undo the seq bump and answer with the original message.
        await client.query('ROLLBACK');
        inTx = false;
        const { rows } = await client.query({
          name: 'message-by-client-id',
          text: `SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id
                 WHERE m.sender_id = $1 AND m.client_msg_id = $2`,
          values: [user.id, clientMsgId],
        });
        if (rows[0].conversation_id !== conv.id) {
          throw new ApiError('conflict', '`clientMsgId` was used for another conversation');
        }
        return { message: messageView(rows[0], conv.receiverFor(user.id)), duplicate: true };
      }
      await client.query('COMMIT');
      inTx = false;
      const row = { ...inserted.rows[0], sender_name: user.displayName };
      return { message: messageView(row, conv.receiverFor(user.id)), duplicate: false };
    } catch (err) {
      if (inTx) await client.query('ROLLBACK').catch((e) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** A conversation the user is a member of (else `forbidden`, whether or not it exists). */
  async conversation(id, userId) {
    const conv = await this.cached(this.convs, id, () => this.loadConversation(id));
    if (!conv || !conv.memberIds.includes(userId)) {
      throw new ApiError('forbidden', 'not a member of this conversation');
    }
    return conv;
  }

  async loadConversation(id) {
    const { rows } = await this.pool.query({
      name: 'conversation-load',
      text: `SELECT c.type, array_agg(m.user_id) AS member_ids FROM conversations c
             JOIN conversation_members m ON m.conversation_id = c.id WHERE c.id = $1 GROUP BY c.id`,
      values: [id],
    });
    if (rows.length === 0) return null;
    return new Conv(id, rows[0].type, rows[0].member_ids.map(Number));
  }

  /** Finds or creates the direct conversation of two users (unique key 'low:high'). */
  async direct(me, other) {
    const [lo, hi] = me < other ? [me, other] : [other, me];
    const key = `${lo}:${hi}`;
    return this.cached(this.directs, key, () =>
      transaction(this.pool, async (client) => {
        const created = await client.query({
          name: 'direct-create',
          text: `INSERT INTO conversations (type, direct_key) VALUES ('direct', $1)
                 ON CONFLICT (direct_key) DO NOTHING RETURNING id`,
          values: [key],
        });
        if (created.rowCount === 1) {
          const id = created.rows[0].id;
          try {
            await client.query({
              name: 'direct-members',
              text: 'INSERT INTO conversation_members (conversation_id, user_id) VALUES ($1, $2), ($1, $3)',
              values: [id, lo, hi],
            });
          } catch (err) {
            if (err.code === '23503') throw new ApiError('not_found', 'no such user'); // foreign key
            throw err;
          }
          return new Conv(id, 'direct', [lo, hi]);
        }
        // Someone else created it (this statement waited for their commit).
        const { rows } = await client.query({
          name: 'direct-find',
          text: 'SELECT id FROM conversations WHERE direct_key = $1',
          values: [key],
        });
        return new Conv(rows[0].id, 'direct', [lo, hi]);
      }),
    );
  }

  /** Memoises the promise (not the value), so concurrent misses share one query, in order. */
  cached(map, key, load) {
    let p = map.get(key);
    if (!p) {
      p = load();
      map.set(key, p);
      // Keep hits; forget misses (null) and failures so they are asked again.
      p.then(
        (value) => {
          if (value == null) map.delete(key);
        },
        () => map.delete(key),
      );
    }
    return p;
  }

  /** POST /api/conversations {type: "group", name, memberIds}: the creator is the owner. */
  async createGroup(user, body) {
    const { type, name, memberIds } = body ?? {};
    if (type !== 'group') throw new ApiError('invalid', '`type` must be "group"');
    if (typeof name !== 'string' || name.trim() === '' || name.length > 100) {
      throw new ApiError('invalid', '`name`: 1-100 characters');
    }
    if (!Array.isArray(memberIds) || !memberIds.every(isId)) {
      throw new ApiError('invalid', '`memberIds` must be an array of user ids');
    }
    const ids = [...new Set([user.id, ...memberIds])];
    if (ids.length > GROUP_MAX_MEMBERS) throw new ApiError('conflict', `at most ${GROUP_MAX_MEMBERS} members`);
    const { conv, view } = await transaction(this.pool, async (client) => {
      const { rows: [c] } = await client.query({
        name: 'group-create',
        text: `INSERT INTO conversations (type, name, created_by) VALUES ('group', $1, $2)
               RETURNING id, name, last_seq, created_at`,
        values: [name.trim(), user.id],
      });
      const { rows: members } = await client.query({
        name: 'group-members',
        text: `WITH added AS (
                 INSERT INTO conversation_members (conversation_id, user_id, role)
                 SELECT $1, u.id, CASE WHEN u.id = $2 THEN 'owner' ELSE 'member' END
                 FROM users u WHERE u.id = ANY($3::bigint[])
                 RETURNING user_id, role, joined_at, delivered_seq, read_seq)
               SELECT a.*, u.username, u.display_name FROM added a JOIN users u ON u.id = a.user_id
               ORDER BY a.user_id`,
        values: [c.id, user.id, ids],
      });
      if (members.length !== ids.length) throw new ApiError('invalid', 'unknown user ids in `memberIds`');
      return {
        conv: new Conv(c.id, 'group', ids),
        view: {
          id: c.id, type: 'group', name: c.name, description: null, avatarUrl: null,
          historyVisibility: 'joined', peerId: null,
          members: members.map((m) => ({
            userId: m.user_id, username: m.username, displayName: m.display_name, role: m.role,
            joinedAt: m.joined_at.toISOString(), deliveredSeq: m.delivered_seq, readSeq: m.read_seq,
          })),
          lastSeq: c.last_seq, createdAt: c.created_at.toISOString(),
        },
      };
    });
    this.convs.set(conv.id, Promise.resolve(conv));
    this.conversationCreated(view, conv.memberIds);
    return { conversation: view };
  }

  /**
   * fetch_unread_messages: messages from others above the caller's delivered watermark,
   * oldest first, one page; the page becomes delivered.
   */
  async fetchUnread(user, payload) {
    if (payload !== undefined && (payload === null || typeof payload !== 'object')) {
      throw new ApiError('invalid', 'payload must be an object');
    }
    const only = payload?.conversationId ?? null;
    if (only !== null) {
      if (!isId(only)) throw new ApiError('invalid', '`conversationId` must be an id');
      await this.conversation(only, user.id);
    }
    const { rows } = await this.pool.query({
      name: 'unread-page',
      text: `SELECT ${MESSAGE_COLUMNS}, c.type AS conv_type
             FROM conversation_members cm
             JOIN messages m ON m.conversation_id = cm.conversation_id AND m.seq > cm.delivered_seq
             JOIN conversations c ON c.id = m.conversation_id
             JOIN users u ON u.id = m.sender_id
             WHERE cm.user_id = $1 AND m.sender_id <> $1 AND ($2::bigint IS NULL OR cm.conversation_id = $2)
             ORDER BY m.id LIMIT $3`,
      values: [user.id, only, PAGE_MAX + 1],
    });
    const hasMore = rows.length > PAGE_MAX;
    const page = rows.slice(0, PAGE_MAX);
    // Within a conversation, id order is seq order (both are taken under its row lock).
    const upTo = new Map();
    for (const r of page) upTo.set(r.conversation_id, Math.max(upTo.get(r.conversation_id) ?? 0, r.seq));
    if (upTo.size > 0) {
      const convIds = [...upTo.keys()].sort((a, b) => a - b);
      await this.pool.query({
        name: 'unread-advance',
        text: `UPDATE conversation_members cm SET delivered_seq = v.seq
               FROM unnest($2::bigint[], $3::bigint[]) AS v(conversation_id, seq)
               WHERE cm.user_id = $1 AND cm.conversation_id = v.conversation_id AND cm.delivered_seq < v.seq`,
        values: [user.id, convIds, convIds.map((c) => upTo.get(c))],
      });
    }
    return {
      messages: page.map((r) => messageView(r, r.conv_type === 'direct' ? user.id : null)),
      hasMore,
    };
  }

  /** mark_read {conversationId, messageId}: read (and so delivered) up to that message. */
  async markRead(user, payload) {
    const { conversationId, messageId } = payload ?? {};
    if (!isId(conversationId) || !isId(messageId)) {
      throw new ApiError('invalid', '`conversationId` and `messageId` are required');
    }
    await this.conversation(conversationId, user.id);
    const { rowCount } = await this.pool.query({
      name: 'mark-read',
      text: `UPDATE conversation_members cm
             SET read_seq = GREATEST(cm.read_seq, m.seq), delivered_seq = GREATEST(cm.delivered_seq, m.seq)
             FROM messages m
             WHERE m.id = $3 AND m.conversation_id = $1 AND cm.conversation_id = $1 AND cm.user_id = $2`,
      values: [conversationId, user.id, messageId],
    });
    if (rowCount === 0) throw new ApiError('not_found', 'no such message in this conversation');
    return { ok: true };
  }

  /** A receive_message ack from `userId`'s device. */
  delivered(conversationId, userId, seq) {
    this.receipts.add(conversationId, userId, seq);
  }
}

/**
 * Live receipts, batched: acks are queued and written a batch per statement. A batch
 * moves a member's delivered_seq to the highest acked seq that leaves no older message
 * from someone else unacknowledged, so a live ack never hides a message that
 * fetch_unread_messages still owes.
 */
class DeliveredBatcher {
  constructor(pool, delayMs = 10) {
    this.pool = pool;
    this.delayMs = delayMs;
    this.pending = [];
    this.timer = null;
    this.flushing = null;
  }

  add(conversationId, userId, seq) {
    this.pending.push([conversationId, userId, seq]);
    if (!this.timer && !this.flushing) this.timer = setTimeout(() => this.flush(), this.delayMs);
  }

  async flush() {
    this.timer = null;
    if (this.flushing || this.pending.length === 0) return this.flushing;
    const batch = this.pending;
    this.pending = [];
    // One lock order for every batch (conversation, user), against deadlocks between nodes.
    batch.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    this.flushing = this.pool
      .query({
        name: 'delivered-batch',
        text: `WITH acks AS (
                 SELECT conversation_id, user_id, array_agg(seq) AS seqs, max(seq) AS top
                 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS a(conversation_id, user_id, seq)
                 GROUP BY conversation_id, user_id),
               target AS (
                 SELECT a.conversation_id, a.user_id,
                        CASE WHEN gap.first IS NULL THEN a.top
                             ELSE (SELECT max(s) FROM unnest(a.seqs) s WHERE s < gap.first) END AS seq
                 FROM acks a
                 JOIN conversation_members cm ON cm.conversation_id = a.conversation_id AND cm.user_id = a.user_id
                 -- the oldest message from someone else above the watermark that was not acked
                 CROSS JOIN LATERAL (
                   SELECT min(m.seq) AS first FROM messages m
                   WHERE m.conversation_id = a.conversation_id AND m.seq > cm.delivered_seq AND m.seq < a.top
                     AND m.sender_id <> a.user_id AND m.seq <> ALL (a.seqs)) gap)
               UPDATE conversation_members cm SET delivered_seq = t.seq FROM target t
               WHERE cm.conversation_id = t.conversation_id AND cm.user_id = t.user_id
                 AND cm.delivered_seq < t.seq`,
        values: [batch.map((a) => a[0]), batch.map((a) => a[1]), batch.map((a) => a[2])],
      })
      .catch((err) => {
        // e.g. a deadlock with another node: try these acks again with the next batch.
        console.error('delivered batch failed, retrying:', err.message);
        this.pending.push(...batch);
      })
      .finally(() => {
        this.flushing = null;
        if (this.pending.length > 0 && !this.timer) this.timer = setTimeout(() => this.flush(), this.delayMs);
      });
    return this.flushing;
  }
}

module.exports = { Chat };
