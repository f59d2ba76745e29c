// The live tail: the delivery log as it is written, newest on top, polled
// every 2 s with the previous answer's next_after (EventSource cannot send
// the key in a header, and the key must not go in a URL).
import { api } from './api.js';
import { h, badge, fmtMs, msg } from './dom.js';

const maxRows = 200;

export function tailView(main, ctx) {
  const tbody = h('tbody');
  const pause = h('input', { type: 'checkbox', id: 'tail-pause' });
  const out = h('p', { class: 'msg' });
  main.append(
    h('div', { class: 'toolbar' }, h('h1', null, 'Live tail'), h('label', { for: 'tail-pause' }, pause, ' pause')),
    h('p', { class: 'muted' }, 'Every delivery queued and every attempt, across your endpoints, as they happen.'),
    h('section', { class: 'card' }, h('table', { id: 'tail' },
      h('thead', null, h('tr', null, ['Time', 'Endpoint', 'Delivery', 'Event type', 'Attempt', 'Outcome', 'Answer'].map((t) => h('th', null, t)))),
      tbody)), out);
  let after = 0;
  const poll = async () => {
    if (pause.checked) return;
    try {
      const page = await api('GET', `/v1/delivery-log?limit=100${after ? `&after=${after}` : ''}`);
      if (!ctx.alive()) return;
      after = page.next_after;
      for (const r of page.data) {
        const queued = r.outcome === 'pending';
        tbody.prepend(h('tr', { 'data-outcome': r.outcome },
          h('td', null, new Date(r.time).toLocaleTimeString()),
          h('td', null, h('a', { href: `#/endpoints/${r.endpoint_id}`, class: 'mono' }, r.endpoint_id)),
          h('td', null, h('a', { href: `#/deliveries/${r.delivery_id}`, class: 'mono' }, r.delivery_id)),
          h('td', null, r.event_type), h('td', null, queued ? 'queued' : String(r.attempt)), h('td', null, badge(r.outcome)),
          h('td', null, r.status_code ? `HTTP ${r.status_code}, ` : '', queued ? '' : fmtMs(r.duration_seconds), r.error ? h('div', { class: 'muted' }, r.error) : '')));
      }
      while (tbody.children.length > maxRows) tbody.lastChild.remove();
      out.textContent = '';
    } catch (e) {
      msg(out, e);
    }
  };
  poll();
  ctx.every(2000, poll);
}
