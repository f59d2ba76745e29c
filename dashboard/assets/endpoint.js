// An endpoint's page: state and health, settings, and the tools of
// tools.js, above its deliveries.
import { api, enc } from './api.js';
import { h, badge, fmtPct, fmtTime, msg, busy, field } from './dom.js';
import { filterCard, secretCard, testCard, recoverCard } from './tools.js';
import { deliveriesCard } from './deliveries.js';

function healthCard(s) {
  const dl = h('dl', { class: 'kv', id: 'health' });
  const add = (k, ...v) => dl.append(h('dt', null, k), h('dd', null, ...v));
  add('State', badge(s.state.replace('_', '-'), s.state), s.disabled_reason ? ` ${s.disabled_reason}` : '');
  add(`Success (${s.window.replace(/0m0s$/, '')})`, s.attempts ? `${fmtPct(s.success_rate)}: ${s.succeeded} of ${s.attempts} attempts, ${s.dead} dead` : 'no attempts');
  add('Last success', fmtTime(s.last_success_at));
  const f = s.last_failure;
  add('Last failure', f ? h('span', null, fmtTime(f.time), ' ', f.status_code ? `HTTP ${f.status_code} ` : '', h('span', { class: 'muted' }, f.error || ''), ' ',
    h('a', { href: `#/deliveries/${f.delivery_id}` }, 'delivery')) : 'none');
  add('Backlog', `${s.backlog.messages} queued (${s.backlog.pending} waiting, ${s.backlog.in_flight} in flight or awaiting retry)`);
  return h('section', { class: 'card' }, h('h2', null, 'Health'), dl);
}

function settingsCard(ep, reload) {
  const input = (id, value, type = 'text') => h('input', { type, id, value: value ?? '' });
  const f = {
    name: input('set-name', ep.name), description: input('set-description', ep.description), url: input('set-url', ep.url, 'url'),
    events: input('set-events', ep.events.join(' ')), timeout: input('set-timeout', ep.timeout),
    maxInFlight: input('set-max-in-flight', ep.max_in_flight || '', 'number'), rateLimit: input('set-rate-limit', ep.rate_limit || '', 'number'),
  };
  const out = h('p', { class: 'msg' });
  const save = h('button', { type: 'submit', id: 'set-save' }, 'Save settings');
  const form = h('form', null, h('h2', null, 'Settings'),
    field('Name', f.name), field('Description', f.description), field('URL', f.url), field('Event types (space-separated; empty: all)', f.events),
    h('div', { class: 'row' }, field('Timeout (e.g. 10s)', f.timeout), field('Max in flight', f.maxInFlight), field('Rate limit (/s)', f.rateLimit)),
    h('p', { class: 'muted' }, `Profile ${ep.profile}, ordering ${ep.ordering}, format ${ep.format || 'standard'}, ` +
      `signing ${ep.signing || 'hmac-sha256'}` +
      (ep.batch ? `, batches of up to ${ep.batch.max_events} events or ${ep.batch.max_wait}` : '') +
      `. Created ${fmtTime(ep.created_at)}.`),
    h('div', { class: 'row' }, save), out);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(save, out, async () => {
      await api('PATCH', `/v1/endpoints/${enc(ep.id)}`, {
        name: f.name.value, description: f.description.value, url: f.url.value.trim(),
        events: f.events.value.split(/[\s,]+/).filter(Boolean), timeout: f.timeout.value.trim(),
        max_in_flight: Number(f.maxInFlight.value || 0), rate_limit: Number(f.rateLimit.value || 0),
      });
      msg(out, 'Saved.');
      reload();
    });
  });
  return h('section', { class: 'card' }, form);
}

export async function endpointView(main, ctx, id) {
  const [ep, stats] = await Promise.all([api('GET', `/v1/endpoints/${enc(id)}`), api('GET', `/v1/endpoints/${enc(id)}/stats`)]);
  if (!ctx.alive()) return;
  const reload = () => { if (ctx.alive()) window.dispatchEvent(new HashChangeEvent('hashchange')); };
  const out = h('p', { class: 'msg' });
  const toggle = h('button', { type: 'button', class: 'secondary', id: 'toggle-enabled' }, ep.enabled ? 'Disable' : 'Enable');
  toggle.addEventListener('click', () => busy(toggle, out, async () => {
    await api('POST', `/v1/endpoints/${enc(id)}/${ep.enabled ? 'disable' : 'enable'}`);
    reload();
  }));
  let health = healthCard(stats);
  main.append(
    h('div', { class: 'toolbar' }, h('h1', null, ep.name || ep.id), h('span', { class: 'mono muted' }, ep.id), toggle),
    out,
    h('div', { class: 'grid' }, health, settingsCard(ep, reload)),
    h('div', { class: 'grid' }, testCard(ep), filterCard(ep)),
    h('div', { class: 'grid' }, secretCard(ep), recoverCard(ep)),
    deliveriesCard(ep, ctx));
  ctx.every(5000, async () => {
    const fresh = healthCard(await api('GET', `/v1/endpoints/${enc(id)}/stats`));
    if (!ctx.alive()) return;
    health.replaceWith(fresh);
    health = fresh;
  });
}
