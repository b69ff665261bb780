// The Confab web client: log in, conversations, real-time chat over
// Socket.IO, receipts, typing, presence, attachments and notifications.
// Everything from the network is rendered as text (see dom.js).

import { api, auth, upload, mediaUrl } from './api.js';
import { h, linkify, time, day, ago, size, uuid } from './dom.js';
import * as notify from './notify.js';
import * as msgs from './messaging.js';

const $ = (id) => document.getElementById(id);
const OUTBOX_KEY = 'confab.outbox';

const S = {
  me: null,
  socket: null,
  convs: new Map(),     // id → Conversation (+ unreadCount, lastMessage)
  convsNext: null,      // the list's next page (`nextBefore`), if there is one
  msgs: new Map(),      // conversationId → Map(id → Message)
  older: new Map(),     // conversationId → more history above?
  open: null,           // the open conversation id
  draftPeer: null,      // a user to message who has no conversation with us yet
  presence: new Map(),  // userId → {online, lastSeen}
  outbox: new Map(),    // clientMsgId → {payload, temp}
  typing: new Map(),    // userId → {name, until}
  files: [],            // attachments waiting in the composer
  replyTo: null,        // the message the composer answers
  editing: null,        // the message the composer edits
  blocked: new Set(),   // user ids the caller blocks
};

// ---------------------------------------------------------------- auth

async function boot() {
  if (!auth.token) return showAuth();
  try {
    S.me = (await api('GET', '/api/users/me')).user;
  } catch (e) {
    if (e.status === 401) auth.token = null;
    return showAuth(e.status === 401 ? '' : e.message);
  }
  startChat();
}

function showAuth(message = '') {
  $('chat').hidden = true;
  $('auth').hidden = false;
  $('auth-error').textContent = message;
}

async function authenticate(kind) {
  const form = $('auth-form');
  const body = { username: form.username.value.trim(), password: form.password.value };
  try {
    const res = await api('POST', `/api/auth/${kind}`, body);
    auth.token = res.token;
    S.me = res.user;
    form.password.value = '';
    startChat();
  } catch (e) {
    $('auth-error').textContent = e.message;
  }
}

$('auth-form').addEventListener('submit', (e) => { e.preventDefault(); authenticate('login'); });
$('register').addEventListener('click', () => {
  if ($('auth-form').reportValidity()) authenticate('register');
});
$('logout').addEventListener('click', async () => {
  try { await api('POST', '/api/auth/logout'); } catch { /* logged out anyway */ }
  auth.token = null;
  localStorage.removeItem(OUTBOX_KEY);
  location.hash = '';
  location.reload();
});

// ---------------------------------------------------------------- socket

function startChat() {
  $('auth').hidden = true;
  $('chat').hidden = false;
  $('me').textContent = S.me.displayName || S.me.username;
  for (const [cid, item] of Object.entries(JSON.parse(localStorage.getItem(OUTBOX_KEY) || '{}'))) S.outbox.set(cid, item);
  notify.init(() => S.socket?.connected, openConversation);
  msgs.loadBlocked().then(() => renderOpen()).catch((e) => console.warn('cannot load blocked users', e));
  const socket = io({ auth: { token: auth.token }, reconnectionDelayMax: 5000 });
  S.socket = socket;
  socket.on('connect', () => { S.presence.set(S.me.id, { online: true }); resync(); });
  socket.on('disconnect', () => { $('banner').hidden = false; });
  socket.on('connect_error', (err) => {
    $('banner').hidden = false;
    if (/unauthorized/i.test(err.message)) { auth.token = null; showAuth('Your session has ended. Please log in again.'); socket.close(); }
  });
  socket.on('receive_message', (m, ack) => { if (typeof ack === 'function') ack(); received(m); });
  socket.on('message_status', statusChanged);
  socket.on('typing', typingChanged);
  for (const name of ['message_updated', 'message_deleted', 'reaction_updated']) {
    socket.on(name, (data) => {
      const convId = msgs.applyEvent(name, data);
      renderList();
      if (convId === S.open) renderOpen();
    });
  }
  socket.on('presence', (p) => { S.presence.set(p.userId, p); renderList(); renderHeader(); });
  socket.on('conversation_updated', ({ conversation }) => { upsertConversation(conversation); renderList(); renderOpen(); });
  socket.on('conversation_removed', ({ conversationId }) => {
    S.convs.delete(conversationId);
    if (S.open === conversationId) closeConversation();
    renderList();
  });
  window.addEventListener('hashchange', route);
  route();
}

/** On every (re)connect: unread messages, unsent messages, fresh list and history. */
async function resync() {
  $('banner').hidden = true;
  try {
    for (;;) {
      const res = await S.socket.emitWithAck('fetch_unread_messages', {});
      if (!res.messages) break;
      for (const m of res.messages) addMessage(m);
      if (!res.hasMore) break;
    }
    for (const cid of S.outbox.keys()) trySend(cid);
    await loadConversations();
    if (S.open) await loadHistory(S.open, { latest: true });
    renderOpen();
    markRead();
  } catch (e) {
    console.warn('resync failed', e);
  }
}

// ---------------------------------------------------------------- data

/** The first page of the list; `reset` drops what later pages had loaded. */
async function loadConversations({ reset = true } = {}) {
  const { conversations, nextBefore } = await api('GET', '/api/conversations');
  if (reset) { S.convs.clear(); S.convsNext = nextBefore; }
  await addConversations(conversations);
}

/** The next page of the list ("Load more"). */
async function loadMoreConversations() {
  if (!S.convsNext) return;
  const { conversations, nextBefore } = await api('GET', `/api/conversations?before=${encodeURIComponent(S.convsNext)}`);
  S.convsNext = nextBefore;
  await addConversations(conversations);
}

async function addConversations(conversations) {
  for (const c of conversations) upsertConversation(c);
  const peers = new Set();
  for (const c of conversations) for (const m of c.members) if (m.userId !== S.me.id) peers.add(m.userId);
  await Promise.all([...peers].filter((id) => !S.presence.has(id)).map(async (id) => {
    try { const { user } = await api('GET', `/api/users/${id}`); S.presence.set(id, { online: user.online, lastSeen: user.lastSeen }); } catch { /* gone */ }
  }));
  renderList();
}

function upsertConversation(c) {
  const old = S.convs.get(c.id) || {};
  S.convs.set(c.id, { unreadCount: 0, lastMessage: null, ...old, ...c });
}

function messagesOf(convId) {
  if (!S.msgs.has(convId)) S.msgs.set(convId, new Map());
  return S.msgs.get(convId);
}

function addMessage(m) {
  const list = messagesOf(m.conversationId);
  if (m.clientMsgId) list.delete(`tmp-${m.clientMsgId}`);
  list.set(m.id, m);
  const c = S.convs.get(m.conversationId);
  if (c && !String(m.id).startsWith('tmp-') && (!c.lastMessage || c.lastMessage.seq <= m.seq)) c.lastMessage = m;
}

async function loadHistory(convId, { latest = false } = {}) {
  const list = messagesOf(convId);
  const ids = [...list.keys()].filter((k) => typeof k === 'number');
  const before = !latest && ids.length ? `&before=${Math.min(...ids)}` : '';
  const { messages, hasMore } = await api('GET', `/api/conversations/${convId}/messages?limit=50${before}`);
  for (const m of messages) addMessage(m);
  if (!latest || !S.older.has(convId)) S.older.set(convId, hasMore);
}

function received(m) {
  const known = S.convs.has(m.conversationId);
  addMessage(m);
  const mine = m.senderId === S.me.id;
  const c = S.convs.get(m.conversationId);
  if (c && !mine && m.type !== 'system' && !(S.open === m.conversationId && visible())) c.unreadCount = (c.unreadCount || 0) + 1;
  if (!known) loadConversations({ reset: false }).catch(() => {});
  if (S.open === m.conversationId) { S.typing.delete(m.senderId); renderOpen({ stick: true }); markRead(); }
  renderList();
  if (!mine && m.type !== 'system' && document.visibilityState === 'hidden') {
    notify.show(title(c) || m.senderName || 'New message', preview(m), m.conversationId);
  }
}

function statusChanged({ conversationId, seq, status, userId }) {
  const c = S.convs.get(conversationId);
  const member = c?.members.find((x) => x.userId === userId);
  if (!member) return;
  member.deliveredSeq = Math.max(member.deliveredSeq, seq);
  if (status === 'read') member.readSeq = Math.max(member.readSeq, seq);
  if (S.open === conversationId) renderOpen();
}

function typingChanged({ conversationId, userId, displayName, isTyping }) {
  if (conversationId !== S.open) return;
  if (isTyping) S.typing.set(userId, { name: displayName, until: Date.now() + 6000 });
  else S.typing.delete(userId);
  renderTyping();
}
setInterval(() => {
  const now = Date.now();
  for (const [id, t] of S.typing) if (t.until < now) S.typing.delete(id);
  renderTyping();
}, 2000);

// ---------------------------------------------------------------- sending

function saveOutbox() {
  localStorage.setItem(OUTBOX_KEY, JSON.stringify(Object.fromEntries(S.outbox)));
}

async function send() {
  const text = $('composer').value;
  if (S.editing) {
    try { await msgs.submitEdit(text); } catch (e) { alert(e.message); }
    return;
  }
  const ready = S.files.filter((f) => f.media);
  if (!text.trim() && !ready.length) return;
  if (!S.open && !S.draftPeer) return;
  if (S.files.some((f) => !f.media && !f.error)) return; // still uploading
  const clientMsgId = uuid();
  const target = S.open ? { conversationId: S.open } : { receiverId: S.draftPeer.id };
  const payload = { ...target, message: text, clientMsgId, attachments: ready.map((f) => ({ id: f.media.id })) };
  if (S.replyTo && S.open) payload.replyTo = S.replyTo.id;
  const quoted = S.replyTo;
  const temp = {
    id: `tmp-${clientMsgId}`, conversationId: S.open, senderId: S.me.id, type: 'text', message: text, seq: Infinity,
    createdAt: new Date().toISOString(), clientMsgId, attachments: ready.map((f) => f.media), pending: true,
    replyTo: quoted ? { id: quoted.id, senderId: quoted.senderId, message: quoted.message } : null,
  };
  msgs.cancelComposerState();
  S.outbox.set(clientMsgId, { payload, temp });
  saveOutbox();
  if (S.open) { addMessage(temp); }
  $('composer').value = '';
  S.files = [];
  renderFiles();
  autosize();
  renderOpen({ stick: true });
  setTyping(false);
  await trySend(clientMsgId);
}

async function trySend(clientMsgId) {
  const item = S.outbox.get(clientMsgId);
  if (!item || !S.socket?.connected || item.sending) return;
  item.sending = true;
  try {
    const ack = await S.socket.timeout(10_000).emitWithAck('send_message', item.payload);
    if (ack.message) {
      S.outbox.delete(clientMsgId);
      saveOutbox();
      const m = ack.message;
      if (!S.convs.has(m.conversationId)) await loadConversations();
      addMessage(m);
      if (S.draftPeer && item.payload.receiverId === S.draftPeer.id) {
        // The draft became a conversation: switch now, so a message typed
        // before the hash change lands goes to it.
        S.open = m.conversationId;
        S.draftPeer = null;
        location.hash = `#/c/${m.conversationId}`;
      }
      renderList();
      renderOpen();
    } else if (ack.error?.code === 'rate_limited' || ack.error?.code === 'unavailable') {
      // Passing refusals (a flood, a server shutting down): the same clientMsgId
      // again later, or on reconnect, stores it once.
      setTimeout(() => trySend(clientMsgId), 1500);
    } else {
      // Refused for good: keep it visible, marked failed, and stop retrying.
      S.outbox.delete(clientMsgId);
      saveOutbox();
      Object.assign(item.temp, { failed: ack.error?.message || 'not sent' });
      if (item.temp.conversationId) addMessage(item.temp);
      renderOpen();
    }
  } catch {
    // No answer: it stays in the outbox and is sent again (same clientMsgId) on reconnect.
    setTimeout(() => trySend(clientMsgId), 3000);
  } finally {
    item.sending = false;
  }
}

let typingSent = false;
let typingTimer = null;
function setTyping(on) {
  if (!S.open || !S.socket?.connected) return;
  clearTimeout(typingTimer);
  if (on) typingTimer = setTimeout(() => setTyping(false), 3000);
  if (on === typingSent) return;
  typingSent = on;
  S.socket.emit('typing', { conversationId: S.open, isTyping: on });
}

const visible = () => document.visibilityState === 'visible' && document.hasFocus();

/** Marks the open conversation read up to its newest message from someone else. */
function markRead() {
  if (!S.open || document.visibilityState !== 'visible' || !S.socket?.connected) return;
  const c = S.convs.get(S.open);
  const mine = c?.members.find((m) => m.userId === S.me.id);
  const newest = [...messagesOf(S.open).values()]
    .filter((m) => typeof m.id === 'number' && m.senderId !== S.me.id)
    .sort((a, b) => b.seq - a.seq)[0];
  if (!newest || !mine || mine.readSeq >= newest.seq) { if (c) c.unreadCount = 0; renderList(); return; }
  mine.readSeq = newest.seq;
  mine.deliveredSeq = Math.max(mine.deliveredSeq, newest.seq);
  c.unreadCount = 0;
  S.socket.emit('mark_read', { conversationId: S.open, messageId: newest.id });
  renderList();
}
document.addEventListener('visibilitychange', markRead);
window.addEventListener('focus', markRead);

// ---------------------------------------------------------------- views

function peerOf(c) {
  return c.type === 'direct' ? c.members.find((m) => m.userId !== S.me.id) : null;
}

function title(c) {
  if (!c) return '';
  if (c.type === 'group') return c.name || 'Group';
  const p = peerOf(c);
  return p ? p.displayName || p.username : 'Conversation';
}

function preview(m) {
  if (!m) return '';
  if (m.deleted) return 'This message was deleted';
  const label = m.attachments?.length ? { image: '📷 Photo', video: '🎥 Video', audio: '🎵 Audio' }[m.attachments[0].kind] || '📎 File' : '';
  return [label, m.message].filter(Boolean).join(' ');
}

function avatar(name, userId) {
  const online = userId && S.presence.get(userId)?.online;
  return h('span', { class: 'avatar', 'aria-hidden': 'true' }, (name || '?').slice(0, 1).toUpperCase(),
    userId ? h('span', { class: `dot${online ? ' online' : ''}`, title: online ? 'online' : 'offline' }) : null);
}

function renderList() {
  const list = [...S.convs.values()].sort((a, b) =>
    (b.lastMessage?.createdAt || b.createdAt).localeCompare(a.lastMessage?.createdAt || a.createdAt));
  $('conversations').replaceChildren(...list.map((c) => {
    const name = title(c);
    const peer = peerOf(c);
    return h('li', {
      class: c.id === S.open ? 'active' : '', tabindex: 0, dataset: { id: c.id }, 'aria-label': name,
      onclick: () => { location.hash = `#/c/${c.id}`; },
      onkeydown: (e) => { if (e.key === 'Enter') location.hash = `#/c/${c.id}`; },
    },
    avatar(name, peer?.userId),
    h('span', { class: 'name' }, name),
    c.unreadCount > 0 ? h('span', { class: 'badge', 'aria-label': `${c.unreadCount} unread` }, c.unreadCount) : h('span'),
    h('span', { class: 'preview' }, preview(c.lastMessage)));
  }));
  $('more-conversations').hidden = !S.convsNext;
}

function renderHeader() {
  const c = S.convs.get(S.open);
  if (!c) msgs.renderBlockButton(null);
  if (!c && !S.draftPeer) { $('conv-title').textContent = 'Pick a conversation'; $('conv-status').textContent = ''; return; }
  if (!c) { $('conv-title').textContent = S.draftPeer.displayName || S.draftPeer.username; $('conv-status').textContent = 'new conversation'; return; }
  $('conv-title').textContent = title(c);
  const peer = peerOf(c);
  if (peer) {
    const p = S.presence.get(peer.userId);
    $('conv-status').textContent = p?.online ? 'online' : ago(p?.lastSeen);
  } else {
    const online = c.members.filter((m) => S.presence.get(m.userId)?.online).length;
    $('conv-status').textContent = `${c.members.length} members, ${online} online`;
  }
  msgs.renderBlockButton(peer);
  $('members-toggle').hidden = c.type !== 'group';
  if (c.type === 'group') renderMembers(c);
}

/** The member list, with management for those whose role allows it. */
function renderMembers(c) {
  const myRole = c.members.find((m) => m.userId === S.me.id)?.role;
  const rank = { member: 0, admin: 1, owner: 2 };
  const canRemove = (m) => m.userId !== S.me.id && (myRole === 'owner' || (myRole === 'admin' && m.role === 'member'));
  const act = (fn) => async () => { try { await fn(); } catch (e) { alert(e.message); } };
  const rows = c.members.map((m) => h('li', { dataset: { userId: m.userId } },
    avatar(m.displayName, m.userId), h('span', {}, m.displayName || m.username), h('small', {}, m.role),
    canRemove(m) ? h('button', { type: 'button', class: 'link', onclick: act(() => api('DELETE', `/api/conversations/${c.id}/members/${m.userId}`)) }, 'Remove') : null,
    myRole === 'owner' && m.userId !== S.me.id ? h('button', {
      type: 'button', class: 'link',
      onclick: act(() => api('PATCH', `/api/conversations/${c.id}/members/${m.userId}`, { role: m.role === 'admin' ? 'member' : 'admin' })),
    }, m.role === 'admin' ? 'Make member' : 'Make admin') : null));
  const tools = [];
  if (rank[myRole] >= 1) {
    const input = h('input', { placeholder: 'Add by username', 'aria-label': 'Add member by username', id: 'add-member' });
    tools.push(h('li', {}, input, h('button', {
      type: 'button', class: 'link', id: 'add-member-button',
      onclick: act(async () => {
        const name = input.value.trim().toLowerCase();
        const { users } = await api('GET', `/api/users?q=${encodeURIComponent(name)}&limit=20`);
        const u = users.find((x) => x.username.toLowerCase() === name);
        if (!u) throw new Error(`no user named ${name}`);
        await api('POST', `/api/conversations/${c.id}/members`, { userIds: [u.id] });
        input.value = '';
      }),
    }, 'Add')));
  }
  tools.push(h('li', {}, h('button', {
    type: 'button', class: 'link', id: 'leave-group',
    onclick: act(async () => { await api('DELETE', `/api/conversations/${c.id}/members/${S.me.id}`); }),
  }, 'Leave group')));
  $('members').replaceChildren(...rows, ...tools);
}

function tick(m, c) {
  const others = c.members.filter((x) => x.userId !== S.me.id);
  if (m.pending) return h('span', { class: 'tick', title: 'sending' }, '🕓');
  const read = others.filter((x) => x.readSeq >= m.seq).length;
  const delivered = others.filter((x) => x.deliveredSeq >= m.seq).length;
  const tip = c.type === 'group' ? `read by ${read} of ${others.length}` : undefined;
  if (others.length && read === others.length) return h('span', { class: 'tick read', title: tip || 'read', dataset: { status: 'read' } }, '✓✓');
  if (others.length && delivered === others.length) return h('span', { class: 'tick', title: tip || 'delivered', dataset: { status: 'delivered' } }, '✓✓');
  return h('span', { class: 'tick', title: tip || 'sent', dataset: { status: 'sent' } }, '✓');
}

function attachmentView(a) {
  if (a.kind === 'image') {
    const img = h('img', { class: 'thumb', alt: a.name, width: a.width || undefined, height: a.height || undefined });
    mediaUrl(a.thumbnailUrl || a.url).then((u) => { img.src = u; }).catch(() => { img.alt = `${a.name} (unavailable)`; });
    img.addEventListener('click', async () => { $('viewer-img').src = await mediaUrl(a.url); $('viewer').showModal(); });
    return img;
  }
  if (a.kind === 'video' || a.kind === 'audio') {
    const el = h(a.kind, { controls: true, preload: 'metadata' });
    mediaUrl(a.url).then((u) => { el.src = u; }).catch(() => {});
    return el;
  }
  const link = h('a', { class: 'chip', href: '#', download: a.name }, '📎 ', a.name, h('small', {}, ` ${size(a.size)}`));
  link.addEventListener('click', async (e) => {
    if (link.dataset.ready) return;
    e.preventDefault();
    link.href = await mediaUrl(a.url);
    link.dataset.ready = '1';
    link.click();
  });
  return link;
}

function renderOpen({ stick = false } = {}) {
  renderHeader();
  const box = $('messages');
  const c = S.convs.get(S.open);
  $('composer-form').hidden = !c && !S.draftPeer;
  if (!c) { box.replaceChildren(); return; }
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const messages = [...messagesOf(S.open).values()].sort((a, b) => a.seq - b.seq);
  const out = [];
  let lastDay = '';
  for (const m of messages) {
    const d = day(m.createdAt);
    if (d !== lastDay) { out.push(h('div', { class: 'day' }, d)); lastDay = d; }
    if (m.type === 'system') { out.push(h('div', { class: 'msg system', dataset: { id: m.id } }, m.message)); continue; }
    const mine = m.senderId === S.me.id;
    const who = !mine && c.type === 'group' ? h('div', { class: 'who' }, m.senderName || 'former member') : null;
    if (m.deleted) {
      out.push(h('div', { class: `msg deleted${mine ? ' mine' : ''}`, dataset: { id: m.id }, tabindex: -1 },
        who, h('div', { class: 'text' }, 'This message was deleted'), h('div', { class: 'meta' }, time(m.createdAt))));
      continue;
    }
    out.push(h('div', { class: `msg${mine ? ' mine' : ''}${m.failed ? ' failed' : ''}`, dataset: { id: m.id }, tabindex: 0 },
      who,
      msgs.quoteView(m),
      m.message ? h('div', { class: 'text' }, linkify(m.message)) : null,
      (m.attachments || []).map(attachmentView),
      msgs.reactionsView(m),
      h('div', { class: 'meta' }, m.failed ? `not sent: ${m.failed} ` : '', m.editedAt ? h('span', { class: 'edited', title: `edited ${new Date(m.editedAt).toLocaleString()}` }, 'edited · ') : null,
        time(m.createdAt), mine ? ' ' : '', mine ? tick(m, c) : null),
      msgs.actionsView(m, c)));
  }
  const before = box.scrollHeight;
  const top = box.scrollTop;
  box.replaceChildren(...out);
  if (stick || atBottom) box.scrollTop = box.scrollHeight;
  else box.scrollTop = top + (box.scrollHeight - before) * (top < 60 ? 1 : 0);
  renderTyping();
}

function renderTyping() {
  const names = [...S.typing.values()].map((t) => t.name);
  $('typing').textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
}

async function openConversation(id) {
  S.open = id;
  S.draftPeer = null;
  S.typing.clear();
  $('chat').classList.add('open');
  renderList();
  renderOpen();
  try {
    if (!S.convs.has(id)) await loadConversations();
    // Beyond the first page of the list: fetch it alone.
    if (!S.convs.has(id)) { upsertConversation((await api('GET', `/api/conversations/${id}`)).conversation); renderList(); renderOpen(); }
    if (!S.older.has(id)) await loadHistory(id, { latest: true });
    renderOpen({ stick: true });
    markRead();
    $('composer').focus();
  } catch (e) {
    if (e.status === 403 || e.status === 404) closeConversation();
  }
}

function closeConversation() {
  S.open = null;
  S.draftPeer = null;
  $('chat').classList.remove('open');
  if (location.hash) history.replaceState(null, '', location.pathname);
  renderList();
  renderOpen();
}

function route() {
  const m = /^#\/c\/(\d+)(?:\/m\/(\d+))?$/.exec(location.hash);
  if (!m) return;
  if (m[2]) openAt(Number(m[1]), Number(m[2]));
  else openConversation(Number(m[1]));
}

/** Opens a conversation at one message (a search result): pages back until it is loaded. */
async function openAt(convId, msgId) {
  if (S.open !== convId) await openConversation(convId);
  for (let i = 0; i < 50 && !messagesOf(convId).has(msgId) && S.older.get(convId); i++) await loadHistory(convId);
  renderOpen();
  msgs.scrollToMessage(msgId);
}

// ---------------------------------------------------------------- interactions

$('messages').addEventListener('scroll', async () => {
  const box = $('messages');
  if (box.scrollTop > 50 || !S.open || !S.older.get(S.open) || box.dataset.loading) return;
  box.dataset.loading = '1';
  const height = box.scrollHeight;
  try { await loadHistory(S.open); } finally { delete box.dataset.loading; }
  renderOpen();
  box.scrollTop = box.scrollHeight - height;
});

function autosize() {
  const t = $('composer');
  t.style.height = 'auto';
  t.style.height = `${Math.min(t.scrollHeight, 160)}px`;
}

$('composer').addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && (S.replyTo || S.editing)) { e.preventDefault(); msgs.cancelComposerState(); return; }
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
});
$('composer').addEventListener('input', () => { autosize(); setTyping($('composer').value.length > 0); });
$('composer-form').addEventListener('submit', (e) => { e.preventDefault(); send(); });
$('back').addEventListener('click', closeConversation);
$('members-toggle').addEventListener('click', () => { $('members').hidden = !$('members').hidden; });

// Attachments: picker, drag-and-drop, paste.
function addFiles(files) {
  for (const file of files) {
    const entry = { file, progress: 0, media: null, error: null };
    S.files.push(entry);
    upload(file, (p) => { entry.progress = p; renderFiles(); })
      .then((media) => { entry.media = media; })
      .catch((e) => { entry.error = e.message; })
      .finally(renderFiles);
  }
  renderFiles();
}

function renderFiles() {
  $('pending-files').replaceChildren(...S.files.map((f) => h('span', { class: 'chip' },
    f.file.name || 'pasted file', ' ',
    f.error ? h('small', { class: 'error' }, f.error) : f.media ? '✓' : h('progress', { max: 1, value: f.progress }),
    h('button', { type: 'button', class: 'icon', 'aria-label': 'Remove', onclick: () => { S.files = S.files.filter((x) => x !== f); renderFiles(); } }, '×'))));
}

$('file').addEventListener('change', (e) => { addFiles(e.target.files); e.target.value = ''; });
$('composer').addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files || [])];
  if (files.length) { e.preventDefault(); addFiles(files); }
});
const conv = $('conversation');
conv.addEventListener('dragover', (e) => { if (S.open || S.draftPeer) { e.preventDefault(); $('drop').hidden = false; } });
conv.addEventListener('dragleave', (e) => { if (!conv.contains(e.relatedTarget)) $('drop').hidden = true; });
conv.addEventListener('drop', (e) => { e.preventDefault(); $('drop').hidden = true; addFiles(e.dataTransfer.files); });

// People search: open (or start) a direct conversation.
let searchTimer = null;
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const q = $('search').value.trim();
    if (!q) { $('search-results').replaceChildren(); return; }
    const { users } = await api('GET', `/api/users?q=${encodeURIComponent(q)}&limit=10`);
    $('search-results').replaceChildren(...users.filter((u) => u.id !== S.me.id).map((u) =>
      h('li', { tabindex: 0, dataset: { userId: u.id }, onclick: () => startDirect(u), onkeydown: (e) => e.key === 'Enter' && startDirect(u) },
        avatar(u.displayName, u.id), h('span', { class: 'name' }, u.displayName || u.username), h('span'), h('span', { class: 'preview' }, `@${u.username}`))));
  }, 200);
});

function startDirect(user) {
  $('search').value = '';
  $('search-results').replaceChildren();
  const existing = [...S.convs.values()].find((c) => c.type === 'direct' && peerOf(c)?.userId === user.id);
  if (existing) { location.hash = `#/c/${existing.id}`; return; }
  S.open = null;
  S.draftPeer = user;
  $('chat').classList.add('open');
  renderList();
  renderOpen();
  $('composer').focus();
}

// New group.
$('new-group').addEventListener('click', () => { $('group-error').textContent = ''; $('group-dialog').showModal(); });
$('group-form').addEventListener('submit', async (e) => {
  if (e.submitter?.value !== 'create') return;
  e.preventDefault();
  try {
    const names = $('group-members').value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const ids = [];
    for (const name of names) {
      const { users } = await api('GET', `/api/users?q=${encodeURIComponent(name)}&limit=20`);
      const u = users.find((x) => x.username.toLowerCase() === name);
      if (!u) throw new Error(`no user named ${name}`);
      ids.push(u.id);
    }
    const { conversation } = await api('POST', '/api/conversations', { type: 'group', name: $('group-name').value.trim(), memberIds: ids });
    upsertConversation(conversation);
    $('group-dialog').close();
    $('group-name').value = '';
    $('group-members').value = '';
    location.hash = `#/c/${conversation.id}`;
  } catch (err) {
    $('group-error').textContent = err.message;
  }
});

$('enable-notifications').addEventListener('click', () => notify.enable());
$('more-conversations').addEventListener('click', () => loadMoreConversations().catch((e) => console.warn('cannot load more', e)));

msgs.init({
  S,
  socket: () => S.socket,
  renderOpen: () => { renderList(); renderOpen(); },
  messagesOf,
  openAt: (convId, msgId) => { location.hash = `#/c/${convId}/m/${msgId}`; },
  composer: () => $('composer'),
});
msgs.bindSearch($('message-search'), $('message-results'));
msgs.bindLongPress($('messages'));

boot();
