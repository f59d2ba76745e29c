// The endpoints list with each endpoint's health, and the form that
// creates one.
import { api, enc } from './api.js';
import { h, badge, fmtPct, fmtTime, msg, busy, field } from './dom.js';

const patterns = (text) => text.split(/[\s,]+/).filter(Boolean);

function createForm() {
  const url = h('input', { type: 'url', id: 'new-url', required: true, placeholder: 'https://example.com/webhooks' });
  const events = h('input', { type: 'text', id: 'new-events', placeholder: 'order.* invoice.paid (empty: every event)' });
  const name = h('input', { type: 'text', id: 'new-name', placeholder: 'Orders' });
  const out = h('p', { class: 'msg' });
  const submit = h('button', { type: 'submit', id: 'new-submit' }, 'Create endpoint');
  const form = h('form', { id: 'new-endpoint' },
    h('h2', null, 'New endpoint'),
    h('div', { class: 'row' }, field('URL', url), field('Event types', events), field('Name', name), h('div', null, submit)),
    out);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(submit, out, async () => {
      const ep = await api('POST', '/v1/endpoints', { url: url.value.trim(), events: patterns(events.value), name: name.value.trim() });
      location.hash = `#/endpoints/${ep.id}`;
    });
  });
  return h('section', { class: 'card' }, form);
}

// healthCells fills a row's health columns once the endpoint's stats come.
async function fillHealth(ep, cells) {
  try {
    const s = await api('GET', `/v1/endpoints/${enc(ep.id)}/stats`);
    cells.state.replaceChildren(badge(s.state.replace('_', '-'), s.state));
    if (s.disabled_reason) cells.state.title = s.disabled_reason;
    cells.rate.textContent = s.attempts ? `${fmtPct(s.success_rate)} of ${s.attempts}` : 'no attempts';
    cells.failure.replaceChildren(s.last_failure
      ? h('span', { title: s.last_failure.error || '' }, fmtTime(s.last_failure.time), ' ',
        h('span', { class: 'muted' }, s.last_failure.status_code ? `HTTP ${s.last_failure.status_code}` : (s.last_failure.error || '')))
      : h('span', { class: 'muted' }, 'none'));
    cells.backlog.textContent = String(s.backlog.messages);
    cells.backlog.title = `${s.backlog.pending} waiting, ${s.backlog.in_flight} in flight or awaiting retry`;
    cells.state.parentElement.dataset.health = 'loaded';
  } catch (e) {
    cells.rate.replaceChildren(h('span', { class: 'msg error' }, e.message));
  }
}

export async function endpointsView(main, ctx) {
  const out = h('p', { class: 'msg' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  main.append(
    h('div', { class: 'toolbar' }, h('h1', null, 'Endpoints'),
      h('span', { class: 'muted' }, 'Health over the last 24 hours')),
    createForm(),
    h('section', { class: 'card' },
      h('table', { id: 'endpoints' },
        h('thead', null, h('tr', null, ['Endpoint', 'State', 'Success rate', 'Last failure', 'Backlog'].map((t) => h('th', null, t)))),
        tbody),
      h('div', { class: 'row' }, more), out));
  let cursor = '';
  const page = async () => {
    const list = await api('GET', `/v1/endpoints?limit=50${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    if (!ctx.alive()) return;
    for (const ep of list.data) {
      const cells = { state: h('td', null, badge(ep.enabled ? 'enabled' : 'disabled')), rate: h('td', null, '…'), failure: h('td'), backlog: h('td') };
      tbody.append(h('tr', { 'data-id': ep.id },
        h('td', null, h('a', { href: `#/endpoints/${ep.id}` }, ep.name || ep.id), h('div', { class: 'muted mono' }, ep.url)),
        cells.state, cells.rate, cells.failure, cells.backlog));
      fillHealth(ep, cells);
    }
    if (!tbody.children.length) tbody.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No endpoints yet.')));
    cursor = list.next_cursor;
    more.hidden = !list.has_more;
  };
  more.addEventListener('click', () => busy(more, out, page));
  await page().catch((e) => msg(out, e));
}
