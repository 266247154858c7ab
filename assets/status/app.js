// The gateway's status page: reads GET /gateway/events (Server-Sent Events, through fetch so that the key can go in
// a header) and renders the models, the budget and the last requests. Load and unload are POSTs with the key. Every
// value from the gateway goes into the page as text, never as HTML.
'use strict';

const KEY_NAME = 'llamactl-gateway-key';
const SHOWN_REQUESTS = 50;
const state = { key: sessionStorage.getItem(KEY_NAME) ?? '', models: [], budget: undefined, recent: [], retryMs: 1000 };
const rows = new Map();
const $ = (id) => document.getElementById(id);

function headers(extra = {}) {
  return state.key ? { ...extra, authorization: `Bearer ${state.key}` } : extra;
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function formatBytes(bytes) {
  if (bytes === undefined || bytes === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

function setConnection(text) {
  $('connection').textContent = text;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body?.error?.message ?? body?.detail ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function askForKey(message) {
  $('key-message').textContent = message;
  $('key-form').hidden = false;
  $('key-input').focus();
  setConnection('Waiting for an API key');
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.key = $('key-input').value.trim();
  sessionStorage.setItem(KEY_NAME, state.key);
  $('key-input').value = '';
  $('key-form').hidden = true;
  connect();
});

async function connect() {
  setConnection('Connecting…');
  let response;
  try {
    response = await fetch('/gateway/events', { headers: headers(), cache: 'no-store' });
  } catch {
    return reconnect('The gateway cannot be reached');
  }
  if (response.status === 401) {
    return askForKey(state.key
      ? 'The gateway refused this key (401 Unauthorized). Enter the key it was started with (--api-key, LLAMACTL_GATEWAY_KEY or apiKeys in its config).'
      : 'This gateway needs an API key (401 Unauthorized). Enter one of its keys.');
  }
  if (!response.ok) return reconnect(`The gateway answered: ${await errorText(response)}`);
  state.retryMs = 1000;
  setConnection('Live');
  try {
    await readEvents(response.body);
  } catch {
    // The stream broke; reconnect below.
  }
  reconnect('The connection to the gateway closed');
}

function reconnect(why) {
  setConnection(`${why}; trying again in ${Math.round(state.retryMs / 1000)} s`);
  setTimeout(connect, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 10_000);
}

async function readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      let data = '';
      for (const line of frame.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

function onEvent(name, data) {
  if (name === 'snapshot' || name === 'models') {
    state.models = data.models;
    state.budget = data.budget;
    if (data.recent) state.recent = data.recent;
    renderBudget();
    renderModels();
  }
  if (name === 'snapshot') renderRequests();
  if (name === 'request') {
    state.recent.push(data);
    if (state.recent.length > 100) state.recent.shift();
    renderRequests();
  }
}

function renderBudget() {
  const { budget } = state;
  const box = $('budget');
  box.replaceChildren();
  if (!budget) return;
  const bars = [['Memory', budget.memoryBytes, (holder) => holder.memoryBytes]];
  if (budget.gpuMemoryBytes !== undefined) bars.push(['GPU memory', budget.gpuMemoryBytes, (holder) => holder.gpuMemoryBytes]);
  for (const [title, total, size] of bars) {
    const held = budget.holders.filter((holder) => size(holder) > 0);
    const used = held.reduce((sum, holder) => sum + size(holder), 0);
    const who = held.map((holder) => `${holder.name} ${formatBytes(size(holder))}`).join(', ');
    const label = `${title}: ${formatBytes(used)} of ${formatBytes(total)} held${who ? ` (${who})` : ' (nothing loaded)'}`;
    const bar = element('div', undefined, { class: 'bar', role: 'img', 'aria-label': label, 'data-used': String(used) });
    for (const holder of held) {
      const segment = element('span', undefined, { title: `${holder.name}: ${formatBytes(size(holder))}` });
      // Through the CSSOM: the page's CSP allows no inline style attributes.
      segment.style.width = `${Math.min(100, (size(holder) / total) * 100)}%`;
      bar.append(segment);
    }
    box.append(bar, element('p', label, { class: 'bar-label' }));
  }
}

const STATE_TEXT = { loaded: 'ready', loading: 'loading…', unloaded: 'unloaded', failed: 'failed' };

function renderModels() {
  const body = $('models').tBodies[0];
  for (const model of state.models) {
    let row = rows.get(model.name);
    if (!row) {
      row = makeRow(model.name);
      rows.set(model.name, row);
      body.append(row.tr);
    }
    const shown = model.state === 'loaded' ? 'ready' : model.state;
    row.tr.dataset.state = shown;
    row.state.className = `state state-${shown}`;
    row.state.replaceChildren(element('span', STATE_TEXT[model.state] ?? model.state));
    if (model.state === 'failed') {
      row.state.append(element('div', model.failure ?? ''));
      if (model.failureLog) {
        const details = element('details');
        details.append(element('summary', 'Engine log'), element('pre', model.failureLog));
        row.state.append(details);
      }
    }
    row.name.textContent = model.aliases.length ? `${model.name} (${model.aliases.join(', ')})` : model.name;
    row.memory.textContent = formatBytes(model.memoryBytes);
    row.slots.textContent = `${model.inFlight} / ${model.slots}`;
    row.queued.textContent = String(model.queued);
    if (!row.busy) {
      row.load.disabled = model.state === 'loaded' || model.state === 'loading';
      row.unload.disabled = model.state !== 'loaded';
    }
  }
}

function makeRow(name) {
  const tr = element('tr', undefined, { 'data-model': name });
  const cell = (className) => tr.appendChild(element('td', undefined, className ? { class: className } : {}));
  const row = { tr, name: cell(), state: cell(), memory: cell('num'), slots: cell('num'), queued: cell('num'), busy: false };
  const actions = cell('actions');
  row.load = element('button', 'Load', { type: 'button', 'aria-label': `Load ${name}` });
  row.unload = element('button', 'Unload', { type: 'button', 'aria-label': `Unload ${name}` });
  row.load.addEventListener('click', () => act(row, name, 'load'));
  row.unload.addEventListener('click', () => act(row, name, 'unload'));
  actions.append(row.load, ' ', row.unload);
  return row;
}

async function act(row, name, action) {
  $('action-message').textContent = '';
  row.busy = true;
  row.load.disabled = true;
  row.unload.disabled = true;
  try {
    const response = await fetch(`/gateway/models/${encodeURIComponent(name)}/${action}`, {
      method: 'POST', headers: headers({ 'content-type': 'application/json' }), body: '{}',
    });
    if (response.status === 401) askForKey('The gateway refused this key (401 Unauthorized). Enter the key it was started with.');
    else if (!response.ok) $('action-message').textContent = `Could not ${action} ${name}: ${await errorText(response)}`;
  } catch {
    $('action-message').textContent = `Could not ${action} ${name}: the gateway cannot be reached.`;
  } finally {
    row.busy = false;
    renderModels();
  }
}

function renderRequests() {
  const body = $('requests').tBodies[0];
  const shown = state.recent.slice(-SHOWN_REQUESTS).reverse();
  body.replaceChildren(...shown.map((request) => {
    const tr = element('tr', undefined, { 'data-route': request.route, 'data-model': request.model });
    const ms = (value) => (value === undefined || value === null ? '—' : `${Math.round(value)} ms`);
    tr.append(
      element('td', new Date(request.at).toLocaleTimeString()),
      element('td', request.route),
      element('td', request.model),
      element('td', String(request.status), { class: 'num' }),
      element('td', ms(request.ms), { class: 'num' }),
      element('td', ms(request.firstByteMs), { class: 'num' }),
      element('td', request.tokensPerS === undefined || request.tokensPerS === null ? '—' : String(request.tokensPerS), { class: 'num' }),
    );
    return tr;
  }));
}

connect();
