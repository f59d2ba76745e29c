// Calls the /v1 API with the signed-in key. The key lives in
// sessionStorage: it goes when the tab closes and never appears in a URL.
const KEY = 'hookd.apiKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (k) => sessionStorage.setItem(KEY, k),
  signOut: () => sessionStorage.removeItem(KEY),
};

export class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || '';
    this.field = e.field || '';
  }
}

// api sends a JSON request and returns the decoded answer (null for 204).
// A 401 means the key is gone or wrong: back to the sign-in form.
export async function api(method, path, body) {
  const init = { method, headers: { Authorization: `Bearer ${session.key() || ''}` } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    if (resp.status === 401 && location.hash !== '#/login') {
      session.signOut();
      location.hash = '#/login';
    }
    throw new APIError(resp.status, data);
  }
  return data;
}

export const enc = encodeURIComponent;
