// Message actions (reply, react, edit, delete), reply quotes, reaction
// chips, the "edited" and "deleted" states, message search and blocking.
// app.js owns the state (S) and rendering; this module builds the parts of
// a message and runs the actions, through the context app.js gives it.
// Everything from the network is rendered as text (see dom.js).

import { api } from './api.js';
import { h } from './dom.js';

/** Reactions offered by the picker (any single emoji is accepted by the server). */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

let ctx = null;

/** `context`: { S, socket(), renderOpen(), messagesOf(id), openAt(convId, msgId), composer() }. */
export function init(context) { ctx = context; }

async function emit(event, payload) {
  const socket = ctx.socket();
  if (!socket?.connected) throw new Error('not connected');
  const ack = await socket.timeout(10_000).emitWithAck(event, payload);
  if (ack?.error) throw new Error(ack.error.message);
  return ack;
}

const report = (fn) => async (...args) => { try { await fn(...args); } catch (e) { alert(e.message); } };

// ---------------------------------------------------------------- live events

/** message_updated / message_deleted / reaction_updated into the state. */
export function applyEvent(name, data) {
  if (name === 'message_updated') {
    const m = data.message;
    const old = ctx.messagesOf(m.conversationId).get(m.id);
    ctx.messagesOf(m.conversationId).set(m.id, { ...old, ...m });
    const c = ctx.S.convs.get(m.conversationId);
    if (c?.lastMessage?.id === m.id) c.lastMessage = { ...c.lastMessage, ...m };
    return m.conversationId;
  }
  if (name === 'message_deleted') {
    const tomb = { deleted: true, message: '', attachments: [], reactions: [], replyTo: null };
    const list = ctx.messagesOf(data.conversationId);
    const m = list.get(data.messageId);
    if (m) list.set(m.id, { ...m, ...tomb });
    for (const other of list.values()) {
      if (other.replyTo?.id === data.messageId) other.replyTo = { ...other.replyTo, message: '' };
    }
    const c = ctx.S.convs.get(data.conversationId);
    if (c?.lastMessage?.id === data.messageId) c.lastMessage = { ...c.lastMessage, ...tomb };
    return data.conversationId;
  }
  if (name === 'reaction_updated') {
    const m = ctx.messagesOf(data.conversationId).get(data.messageId);
    if (m) m.reactions = data.reactions;
    return data.conversationId;
  }
  return null;
}

// ---------------------------------------------------------------- rendering

/** The quoted message above a reply: click (or Enter) scrolls to it. */
export function quoteView(m) {
  if (!m.replyTo) return null;
  const q = m.replyTo;
  const author = ctx.S.convs.get(m.conversationId)?.members.find((x) => x.userId === q.senderId);
  return h('button', {
    type: 'button', class: 'quote', dataset: { quoteOf: q.id },
    'aria-label': `Reply to ${author?.displayName || 'a message'}: go to the quoted message`,
    onclick: () => scrollToMessage(q.id),
  },
  h('strong', {}, author?.displayName || author?.username || 'Someone'),
  h('span', {}, q.message || 'This message was deleted'));
}

/** Scrolls the open conversation to a message and highlights it briefly. */
export function scrollToMessage(id) {
  const el = document.querySelector(`#messages [data-id="${CSS.escape(String(id))}"]`);
  if (!el) return false;
  el.scrollIntoView({ block: 'center' });
  el.classList.add('highlight');
  el.focus({ preventScroll: true });
  setTimeout(() => el.classList.remove('highlight'), 2000);
  return true;
}

/** Reaction chips with counts; clicking one toggles your own reaction. */
export function reactionsView(m) {
  if (!m.reactions?.length) return null;
  return h('div', { class: 'reactions' }, m.reactions.map((r) => {
    const mine = r.userIds.includes(ctx.S.me.id);
    return h('button', {
      type: 'button', class: `reaction${mine ? ' mine' : ''}`, 'aria-pressed': mine ? 'true' : 'false',
      'aria-label': `${r.emoji} ${r.count}${mine ? ', including you' : ''}`, dataset: { emoji: r.emoji },
      onclick: report(() => toggleReaction(m, r.emoji)),
    }, `${r.emoji} ${r.count}`);
  }));
}

/** The per-message actions: shown on hover, focus (keyboard) or tap. */
export function actionsView(m, c) {
  if (m.deleted || m.pending || m.failed || typeof m.id !== 'number') return null;
  const mine = m.senderId === ctx.S.me.id;
  const role = c.members.find((x) => x.userId === ctx.S.me.id)?.role;
  const moderator = c.type === 'group' && (role === 'owner' || role === 'admin');
  const picker = h('div', { class: 'picker', hidden: true, role: 'group', 'aria-label': 'Pick a reaction' },
    QUICK_REACTIONS.map((e) => h('button', {
      type: 'button', class: 'icon', 'aria-label': `React ${e}`, dataset: { emoji: e },
      onclick: report(async () => { picker.hidden = true; await toggleReaction(m, e); }),
    }, e)));
  return h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Message actions' },
    h('button', { type: 'button', class: 'link', dataset: { action: 'reply' }, onclick: () => startReply(m) }, 'Reply'),
    h('button', {
      type: 'button', class: 'link', dataset: { action: 'react' }, 'aria-haspopup': 'true',
      onclick: () => { picker.hidden = !picker.hidden; picker.querySelector('button')?.focus(); },
    }, 'React'),
    mine && m.type === 'text' ? h('button', { type: 'button', class: 'link', dataset: { action: 'edit' }, onclick: () => startEdit(m) }, 'Edit') : null,
    mine || moderator ? h('button', { type: 'button', class: 'link danger', dataset: { action: 'delete' }, onclick: report(() => remove(m)) }, 'Delete') : null,
    picker);
}

// ---------------------------------------------------------------- actions

async function toggleReaction(m, emoji) {
  const mine = m.reactions?.find((r) => r.emoji === emoji)?.userIds.includes(ctx.S.me.id);
  const { reactions } = await emit(mine ? 'unreact' : 'react', { messageId: m.id, emoji });
  m.reactions = reactions;
  ctx.renderOpen();
}

async function remove(m) {
  if (!confirm('Delete this message for everyone?')) return;
  await emit('delete_message', { messageId: m.id });
  applyEvent('message_deleted', { conversationId: m.conversationId, messageId: m.id });
  ctx.renderOpen();
}

function startReply(m) {
  ctx.S.editing = null;
  ctx.S.replyTo = m;
  renderComposerState();
  ctx.composer().focus();
}

function startEdit(m) {
  ctx.S.replyTo = null;
  ctx.S.editing = m;
  ctx.composer().value = m.message;
  renderComposerState();
  ctx.composer().focus();
}

/** "Replying to …" / "Editing" above the composer, with a cancel button. */
export function renderComposerState() {
  const { replyTo, editing } = ctx.S;
  const bar = document.getElementById('composer-state');
  if (!replyTo && !editing) { bar.hidden = true; bar.replaceChildren(); return; }
  const label = editing ? 'Editing your message' : `Replying to: ${replyTo.message || 'a message'}`;
  bar.hidden = false;
  bar.replaceChildren(h('span', {}, label), h('button', {
    type: 'button', class: 'icon', 'aria-label': editing ? 'Cancel editing' : 'Cancel reply', id: 'composer-cancel',
    onclick: () => { cancelComposerState(); },
  }, '×'));
}

export function cancelComposerState() {
  if (ctx.S.editing) ctx.composer().value = '';
  ctx.S.replyTo = null;
  ctx.S.editing = null;
  renderComposerState();
}

/** The composer's text, when editing: sends `edit_message`. True if it handled it. */
export async function submitEdit(text) {
  const m = ctx.S.editing;
  if (!m) return false;
  if (!text.trim()) return true;
  const { message } = await emit('edit_message', { messageId: m.id, message: text });
  applyEvent('message_updated', { message });
  cancelComposerState();
  ctx.composer().value = '';
  ctx.renderOpen();
  return true;
}

// ---------------------------------------------------------------- search

let searchTimer = null;
/** The message search box: results open the conversation at that message. */
export function bindSearch(input, results) {
  input.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      const q = input.value.trim();
      if (!q) { results.replaceChildren(); return; }
      try {
        const { messages } = await api('GET', `/api/search/messages?q=${encodeURIComponent(q)}&limit=20`);
        results.replaceChildren(...(messages.length ? messages.map((m) => {
          const open = () => { input.value = ''; results.replaceChildren(); ctx.openAt(m.conversationId, m.id); };
          const c = ctx.S.convs.get(m.conversationId);
          return h('li', { tabindex: 0, dataset: { messageId: m.id }, onclick: open, onkeydown: (e) => e.key === 'Enter' && open() },
            h('span', { class: 'name' }, m.senderName || 'Someone'),
            h('span', { class: 'where' }, c ? (c.name || '') : ''),
            h('span', { class: 'preview' }, m.message));
        }) : [h('li', { class: 'empty' }, 'No messages found')]));
      } catch (e) {
        results.replaceChildren(h('li', { class: 'empty' }, e.message));
      }
    }, 250);
  });
}

// ---------------------------------------------------------------- blocking

export async function loadBlocked() {
  const { users } = await api('GET', '/api/users/blocked');
  ctx.S.blocked = new Set(users.map((u) => u.id));
}

/** The block/unblock button on a direct conversation's header. */
export function renderBlockButton(peer) {
  const button = document.getElementById('block-toggle');
  if (!peer) { button.hidden = true; return; }
  const blocked = ctx.S.blocked.has(peer.userId);
  button.hidden = false;
  button.textContent = blocked ? 'Unblock' : 'Block';
  button.setAttribute('aria-pressed', blocked ? 'true' : 'false');
  button.onclick = report(async () => {
    if (!blocked && !confirm(`Block ${peer.displayName || peer.username}? They will not be able to message you.`)) return;
    await api(blocked ? 'DELETE' : 'POST', `/api/users/${peer.userId}/block`);
    if (blocked) ctx.S.blocked.delete(peer.userId); else ctx.S.blocked.add(peer.userId);
    ctx.renderOpen();
  });
  document.getElementById('blocked-note').hidden = !blocked;
}

/** Touch: a long press on a message shows its actions (hover and focus do elsewhere). */
export function bindLongPress(box) {
  let timer = null;
  box.addEventListener('touchstart', (e) => {
    const el = e.target.closest('.msg');
    if (!el) return;
    timer = setTimeout(() => {
      for (const x of box.querySelectorAll('.msg.touched')) x.classList.remove('touched');
      el.classList.add('touched');
    }, 500);
  }, { passive: true });
  for (const end of ['touchend', 'touchmove', 'touchcancel']) box.addEventListener(end, () => clearTimeout(timer), { passive: true });
}
