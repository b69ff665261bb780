// REST calls with the stored token. Errors come back as {status, code, message}.

const TOKEN_KEY = 'confab.token';

export const auth = {
  get token() { return localStorage.getItem(TOKEN_KEY); },
  set token(t) { if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY); },
};

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export async function api(method, path, body) {
  const headers = {};
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const e = data?.error ?? {};
    throw new ApiError(res.status, e.code ?? 'http', e.message ?? `request failed (${res.status})`);
  }
  return data;
}

/** Uploads a file with progress (XHR: fetch has no upload progress). */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/media?name=${encodeURIComponent(file.name || 'file')}`);
    xhr.setRequestHeader('authorization', `Bearer ${auth.token}`);
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201) resolve(data.media);
      else reject(new ApiError(xhr.status, data?.error?.code, data?.error?.message ?? 'upload failed'));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'upload failed'));
    xhr.send(file);
  });
}

/** A blob: URL for media that needs the Authorization header. */
const blobs = new Map();
export async function mediaUrl(path) {
  if (/^https?:/.test(path)) return path; // Cloudinary
  if (!blobs.has(path)) {
    blobs.set(path, fetch(path, { headers: { authorization: `Bearer ${auth.token}` } })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
      .then((b) => URL.createObjectURL(b)));
  }
  return blobs.get(path);
}
