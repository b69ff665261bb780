// Confab's service worker: shows Web Push notifications while the app is
// closed, and opens the conversation when one is clicked.

self.addEventListener('push', (event) => {
  let p = {};
  try { p = event.data ? event.data.json() : {}; } catch { p = { title: 'Confab', body: event.data?.text() }; }
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    // An open, visible tab shows the message itself.
    if (windows.some((w) => w.visibilityState === 'visible')) return;
    await self.registration.showNotification(p.title || 'Confab', {
      body: p.body || '', tag: p.tag, renotify: true, data: p.data || {},
    });
    if (navigator.setAppBadge && Number.isInteger(p.badge)) navigator.setAppBadge(p.badge).catch(() => {});
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const id = event.notification.data?.conversationId;
  const url = id ? `/#/c/${id}` : '/';
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of windows) {
      w.postMessage({ type: 'open', conversationId: id });
      return w.focus();
    }
    return self.clients.openWindow(url);
  })());
});
