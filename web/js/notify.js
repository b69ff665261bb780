// Notifications: the Notification API while the tab is hidden, and Web Push
// through a service worker when the app is closed. Permission is asked only
// from a click (the 🔔 button), never on load.

import { api } from './api.js';

let openConversation = () => {};

export function init(_connected, open) {
  openConversation = open;
  navigator.serviceWorker?.addEventListener('message', (e) => {
    if (e.data?.type === 'open' && e.data.conversationId) location.hash = `#/c/${e.data.conversationId}`;
  });
  updateButton();
}

function updateButton() {
  const b = document.getElementById('enable-notifications');
  if (!('Notification' in window)) { b.hidden = true; return; }
  b.hidden = Notification.permission === 'granted' && localStorage.getItem('confab.push') === '1';
}

export function show(title, body, conversationId) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const n = new Notification(title, { body, tag: `c${conversationId}` });
  n.onclick = () => { window.focus(); location.hash = `#/c/${conversationId}`; n.close(); openConversation(conversationId); };
}

const b64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

/** From a click: ask permission, then subscribe this browser to Web Push. */
export async function enable() {
  if (!('Notification' in window)) return;
  const permission = await Notification.requestPermission();
  updateButton();
  if (permission !== 'granted' || !('serviceWorker' in navigator) || !('PushManager' in window)) return;
  try {
    const reg = await navigator.serviceWorker.register('/sw.js');
    const { publicKey } = await api('GET', '/api/push/vapid-public-key');
    const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64(publicKey) });
    const json = sub.toJSON();
    await api('POST', '/api/push/subscriptions', { type: 'webpush', endpoint: json.endpoint, keys: json.keys });
    localStorage.setItem('confab.push', '1');
    updateButton();
  } catch (e) {
    console.warn('Web Push is not available here:', e);
  }
}
