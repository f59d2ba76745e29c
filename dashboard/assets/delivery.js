// A delivery's page: every attempt, and a retry button. While the
// delivery is pending it is polled, so a retry's attempt shows up.
import { api, enc } from './api.js';
import { h, badge, fmtMs, fmtTime, msg, busy } from './dom.js';

function attemptsTable(d) {
  const rows = d.attempts.map((a) => h('tr', { 'data-attempt': a.attempt, 'data-outcome': a.outcome },
    h('td', null, String(a.attempt)), h('td', null, fmtTime(a.time)), h('td', null, badge(a.outcome)),
    h('td', null, a.status_code ? String(a.status_code) : '—'), h('td', null, fmtMs(a.duration_seconds)),
    h('td', null, a.response ? h('pre', null, a.response) : ''), h('td', null, a.error || '')));
  if (!rows.length) rows.push(h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'Not attempted yet.')));
  return h('table', { id: 'attempts' },
    h('thead', null, h('tr', null, ['#', 'Time', 'Outcome', 'Status', 'Duration', 'Response', 'Error'].map((t) => h('th', null, t)))),
    h('tbody', null, rows));
}

export async function deliveryView(main, ctx, id) {
  const box = h('div');
  const out = h('p', { class: 'msg', id: 'retry-result' });
  main.append(box, out);
  let shown = '';
  let status = '';
  const draw = (d) => {
    status = d.status;
    const key = JSON.stringify(d);
    if (key === shown) return; // unchanged: keep the page still
    shown = key;
    const retry = h('button', { type: 'button', id: 'retry' }, d.status === 'succeeded' ? 'Deliver again' : 'Retry now');
    retry.disabled = d.status === 'pending';
    retry.addEventListener('click', () => busy(retry, out, async () => {
      draw(await api('POST', `/v1/deliveries/${enc(id)}/retry`, { force: d.status === 'succeeded' || d.status === 'batched' }));
      msg(out, 'Queued again.');
    }));
    const dl = h('dl', { class: 'kv' });
    const add = (k, ...v) => dl.append(h('dt', null, k), h('dd', null, ...v));
    add('Status', h('span', { id: 'delivery-status' }, badge(d.status)), d.next_attempt_at ? ` next attempt ${fmtTime(d.next_attempt_at)}` : '');
    add('Endpoint', h('a', { href: `#/endpoints/${d.endpoint_id}`, class: 'mono' }, d.endpoint_id));
    add('Event', h('span', { class: 'mono' }, d.event_id), ` (${d.event_type}), accepted ${fmtTime(d.created_at)}`);
    add('Attempts', String(d.attempt_count));
    box.replaceChildren(
      h('div', { class: 'toolbar' }, h('h1', null, 'Delivery'), h('span', { class: 'mono muted' }, d.id), retry),
      h('section', { class: 'card' }, dl),
      h('section', { class: 'card' }, h('h2', null, 'Attempts'), attemptsTable(d)));
  };
  draw(await api('GET', `/v1/deliveries/${enc(id)}`));
  // Polled while something may change: pending, or failed with a retry due.
  ctx.every(1000, async () => {
    if (status !== 'pending' && status !== 'failed') return;
    const d = await api('GET', `/v1/deliveries/${enc(id)}`);
    if (ctx.alive()) draw(d);
  });
}
