// An endpoint's deliveries, newest first, filtered by status; refreshed
// every few seconds while "live" is on.
import { api, enc } from './api.js';
import { h, badge, fmtTime, msg, busy } from './dom.js';

const statuses = ['', 'pending', 'failed', 'succeeded', 'dead', 'batched'];

export function deliveriesCard(ep, ctx) {
  const status = h('select', { id: 'deliveries-status' }, statuses.map((s) => h('option', { value: s }, s || 'any status')));
  const live = h('input', { type: 'checkbox', id: 'deliveries-live', checked: true });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  const out = h('p', { class: 'msg' });
  let cursor = '';
  let shown = '';
  const row = (d) => h('tr', { 'data-id': d.id, 'data-status': d.status },
    h('td', null, h('a', { href: `#/deliveries/${d.id}`, class: 'mono' }, d.id)),
    h('td', null, d.event_type), h('td', null, badge(d.status)), h('td', null, String(d.attempt_count)),
    h('td', null, d.last_status_code ? `HTTP ${d.last_status_code}` : '', d.last_error ? h('div', { class: 'muted' }, d.last_error) : ''),
    h('td', null, fmtTime(d.created_at)));
  // load replaces the first page, or appends the next one.
  const load = async (next) => {
    const q = new URLSearchParams({ limit: '25' });
    if (status.value) q.set('status', status.value);
    if (next) q.set('cursor', cursor);
    const page = await api('GET', `/v1/endpoints/${enc(ep.id)}/deliveries?${q}`);
    if (!ctx.alive()) return;
    const seen = JSON.stringify(page);
    if (!next && seen === shown) return; // unchanged: leave the rows alone
    shown = next ? '' : seen;
    const rows = page.data.map(row);
    if (next) tbody.append(...rows);
    else tbody.replaceChildren(...(rows.length ? rows : [h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'No deliveries.'))]));
    cursor = page.next_cursor;
    more.hidden = !page.has_more;
  };
  status.addEventListener('change', () => load(false).catch((e) => msg(out, e)));
  more.addEventListener('click', () => busy(more, out, async () => { live.checked = false; await load(true); }));
  ctx.every(2000, async () => { if (live.checked) await load(false); });
  load(false).catch((e) => msg(out, e));
  return h('section', { class: 'card' },
    h('div', { class: 'toolbar' }, h('h2', null, 'Deliveries'), status, h('label', { for: 'deliveries-live' }, live, ' live')),
    h('table', { id: 'deliveries' },
      h('thead', null, h('tr', null, ['Delivery', 'Event type', 'Status', 'Attempts', 'Last answer', 'Event accepted'].map((t) => h('th', null, t)))),
      tbody),
    h('div', { class: 'row' }, more), out);
}
