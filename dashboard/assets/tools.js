// The endpoint page's tools: filter (tested live before saving), secret,
// test send and recover.
import { api, enc, APIError } from './api.js';
import { h, badge, fmtMs, fmtTime, msg, busy, field, parseJSON } from './dom.js';

// sampleType makes a concrete event type from the endpoint's first pattern.
const sampleType = (ep) => (ep.events[0] || 'order.created').replace(/\*/g, 'example').replace(/>/g, 'example');

export function filterCard(ep) {
  const expr = h('textarea', { id: 'filter-expr', spellcheck: 'false', placeholder: 'data.amount > 100 (empty: no filter)' }, ep.filter);
  const sample = h('textarea', { id: 'filter-sample', spellcheck: 'false', rows: 7 },
    JSON.stringify({ type: sampleType(ep), data: { amount: 120 } }, null, 1));
  const result = h('p', { class: 'msg', id: 'filter-result' });
  const save = h('button', { type: 'button', id: 'filter-save', disabled: true }, 'Save filter');
  let seq = 0;
  let timer;
  // test runs the draft filter with the endpoint's event types against the
  // sample; only a filter that compiles can be saved.
  const test = async () => {
    const mine = ++seq;
    save.disabled = true;
    try {
      const event = parseJSON(sample.value, 'the sample event');
      const r = await api('POST', '/v1/rules/test', { filter: expr.value, events: ep.events, event });
      if (mine !== seq) return;
      result.replaceChildren(r.matched ? badge('matches', 'ok') : badge('does not match', 'bad'),
        r.error ? ` evaluation error: ${r.error}` : '');
      result.className = 'msg';
      save.disabled = expr.value === ep.filter;
    } catch (e) {
      if (mine !== seq) return;
      msg(result, e instanceof APIError && e.field === 'filter' ? new Error(`does not compile: ${e.message}`) : e);
    }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(test, 250); };
  expr.addEventListener('input', later);
  sample.addEventListener('input', later);
  save.addEventListener('click', () => busy(save, result, async () => {
    await api('PATCH', `/v1/endpoints/${enc(ep.id)}`, { filter: expr.value });
    ep.filter = expr.value;
    msg(result, 'Filter saved.');
  }));
  test();
  return h('section', { class: 'card' }, h('h2', null, 'Filter'),
    field('Expression (over type, data, headers, …)', expr), field('Sample event', sample),
    result, h('div', { class: 'row' }, save));
}

export function secretCard(ep) {
  const out = h('p', { class: 'msg' });
  const value = h('code', { id: 'secret-value', class: 'mono' }, '••••••••');
  const grace = h('input', { type: 'text', id: 'rotate-grace', value: '24h' });
  const reveal = h('button', { type: 'button', class: 'secondary', id: 'secret-reveal' }, 'Reveal');
  const rotate = h('button', { type: 'button', id: 'secret-rotate' }, 'Rotate…');
  // An ed25519 endpoint answers its public key: its secret key never
  // leaves hookd.
  const shown = (r) => r.public_key ? `${r.public_key} (public key, ${r.signing})` : r.secret;
  reveal.addEventListener('click', () => busy(reveal, out, async () => {
    value.textContent = shown(await api('GET', `/v1/endpoints/${enc(ep.id)}/secret`));
  }));
  // Two clicks, not a dialog: a rotation changes what receivers must verify.
  let armed = false;
  rotate.addEventListener('click', () => {
    if (!armed) {
      armed = true;
      rotate.textContent = 'Confirm rotation';
      return;
    }
    busy(rotate, out, async () => {
      const r = await api('POST', `/v1/endpoints/${enc(ep.id)}/rotate-secret`, { grace_period: grace.value.trim() });
      value.textContent = shown(r);
      msg(out, r.previous_secret_expires_at ? `Rotated: the old secret also signs until ${fmtTime(r.previous_secret_expires_at)}.` : 'Rotated.');
      armed = false;
      rotate.textContent = 'Rotate…';
    });
  });
  return h('section', { class: 'card' }, h('h2', null, ep.signing === 'ed25519' ? 'Signing key (ed25519)' : 'Signing secret'), h('p', null, value),
    h('div', { class: 'row' }, field('Old secret keeps signing for', grace), h('div', null, reveal, ' ', rotate)), out);
}

export function testCard(ep) {
  const type = h('input', { type: 'text', id: 'test-type', value: 'hookd.test' });
  const data = h('textarea', { id: 'test-data', spellcheck: 'false' }, '{"message": "test delivery from hookd"}');
  const result = h('div', { id: 'test-result' });
  const send = h('button', { type: 'button', id: 'test-send' }, 'Send test');
  send.addEventListener('click', () => busy(send, result, async () => {
    result.replaceChildren();
    const r = await api('POST', `/v1/endpoints/${enc(ep.id)}/test`, { event_type: type.value.trim(), data: parseJSON(data.value, 'the data') });
    result.replaceChildren(...[h('p', { class: r.succeeded ? 'test-ok' : 'test-failed' },
      badge(r.succeeded ? 'succeeded' : 'failed'), ' ', r.status_code ? `HTTP ${r.status_code}` : 'no response', `, ${fmtMs(r.duration_seconds)}`),
    r.error && h('p', { class: 'msg error' }, r.error),
    r.response && h('pre', null, r.response)].filter(Boolean));
  }));
  return h('section', { class: 'card' }, h('h2', null, 'Test send'),
    h('p', { class: 'muted' }, 'One signed request now; not retried, not logged as a delivery.'),
    field('Event type', type), field('Data', data), h('div', { class: 'row' }, send), result);
}

export function recoverCard(ep) {
  const since = h('input', { type: 'datetime-local', id: 'recover-since', required: true });
  const until = h('input', { type: 'datetime-local', id: 'recover-until' });
  const out = h('p', { class: 'msg', id: 'recover-result' });
  const go = h('button', { type: 'submit', id: 'recover-submit' }, 'Recover');
  const form = h('form', null, h('h2', null, 'Recover since'),
    h('p', { class: 'muted' }, 'Queue again every failed or dead delivery of events accepted in the window (your local time).'),
    h('div', { class: 'row' }, field('Since', since), field('Until (empty: now)', until), h('div', null, go)), out);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(go, out, async () => {
      const body = { since: new Date(since.value).toISOString() };
      if (until.value) body.until = new Date(until.value).toISOString();
      const r = await api('POST', `/v1/endpoints/${enc(ep.id)}/recover`, body);
      msg(out, `Requeued ${r.requeued} deliveries.`);
    });
  });
  return h('section', { class: 'card' }, form);
}
