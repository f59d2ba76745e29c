// The dashboard's router: #/ endpoints, #/endpoints/{id}, #/deliveries/{id},
// #/tail, #/login. Routes live in the fragment, so the server serves one
// page and a reload keeps the view.
import { api, session } from './api.js';
import { h, msg } from './dom.js';
import { endpointsView } from './endpoints.js';
import { endpointView } from './endpoint.js';
import { deliveryView } from './delivery.js';
import { tailView } from './tail.js';

let generation = 0;

// viewContext lets a view poll until the person leaves it.
function viewContext() {
  const mine = ++generation;
  const alive = () => mine === generation;
  return {
    alive,
    every(ms, fn) {
      const tick = async () => {
        if (!alive()) return;
        try { await fn(); } catch { /* shown by fn; keep polling */ }
        if (alive()) setTimeout(tick, ms);
      };
      setTimeout(tick, ms);
    },
  };
}

function loginView(main) {
  const key = h('input', { type: 'password', id: 'login-key', autocomplete: 'current-password', required: true, placeholder: 'hk_…' });
  const out = h('p', { class: 'msg', id: 'login-msg' });
  const form = h('form', { id: 'login-form' },
    h('h1', null, 'Sign in to hookd'),
    h('label', { for: 'login-key' }, 'API key'), key,
    h('div', { class: 'row' }, h('button', { type: 'submit', id: 'login-submit' }, 'Sign in')), out,
    h('p', { class: 'muted' }, 'The key stays in this tab (sessionStorage) and is sent only to this server.'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    session.signIn(key.value.trim());
    try {
      await api('GET', '/v1/endpoints?limit=1');
      location.hash = '#/';
    } catch (e) {
      session.signOut();
      msg(out, e.status === 401 ? new Error('that key is not valid') : e);
    }
  });
  main.append(h('section', { class: 'card login' }, form));
  key.focus();
}

const routes = [
  [/^#\/login$/, loginView],
  [/^#\/endpoints\/([\w-]+)$/, endpointView],
  [/^#\/deliveries\/([\w-]+)$/, deliveryView],
  [/^#\/tail$/, tailView],
  [/^#?\/?$/, endpointsView],
];

function render() {
  const main = document.getElementById('app');
  const hash = location.hash || '#/';
  if (!session.key() && hash !== '#/login') {
    location.hash = '#/login';
    return;
  }
  document.getElementById('nav').hidden = !session.key();
  main.replaceChildren();
  const ctx = viewContext();
  for (const [re, view] of routes) {
    const m = hash.match(re);
    if (m) {
      Promise.resolve(view(main, ctx, ...m.slice(1))).catch((e) => {
        if (ctx.alive()) main.append(h('p', { class: 'msg error' }, `Error: ${e.message}`));
      });
      return;
    }
  }
  main.append(h('p', { class: 'msg error' }, 'No such page. ', h('a', { href: '#/' }, 'Endpoints')));
}

document.getElementById('logout').addEventListener('click', () => {
  session.signOut();
  location.hash = '#/login';
});
window.addEventListener('hashchange', render);
render();
