// h builds elements. Every value becomes a text node or an attribute,
// never HTML: API data cannot inject markup.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v != null) el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const badge = (text, kind) => h('span', { class: `badge ${kind || text}` }, text);

export function fmtTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toLocaleString();
}

export const fmtPct = (r) => (r == null ? '—' : `${Number((r * 100).toFixed(1))}%`);
export const fmtMs = (s) => `${Math.round((s || 0) * 1000)} ms`;

// msg shows the outcome of an action in el: an Error in red, text in green.
export function msg(el, what) {
  el.className = `msg ${what instanceof Error ? 'error' : 'ok'}`;
  el.textContent = what instanceof Error ? `Error: ${what.message}` : String(what);
}

// busy disables a button while fn runs, reporting a failure in out.
export async function busy(button, out, fn) {
  button.disabled = true;
  try {
    await fn();
  } catch (e) {
    if (out) msg(out, e);
  } finally {
    button.disabled = false;
  }
}

export const field = (label, input) => h('div', null, h('label', { for: input.id }, label), input);

// parseJSON reads a textarea's JSON, naming the box when it is not.
export function parseJSON(text, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not JSON: ${e.message}`);
  }
}
