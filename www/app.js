// The demo page: the package in the browser, an IndexedDB cache ('auto'
// store) of the metadata server that serves the page. Reads come from the
// cache (also offline); writes go to the server, pinned to the version the
// page shows; changes made in other windows arrive by the change stream.
import { MetadataService } from '/pkg/index.web.js';

const $ = (selector) => document.querySelector(selector);
const FILES = {
  'apps/crm.app.json': '{ "label": "CRM (from a metadata file)", "navigation": ["accounts", "contacts"] }\n',
};
const state = { type: null, name: null, base: 0, dirty: false, liveTimer: null };

const svc = await MetadataService.create({ store: 'auto', namespace: 'demo', remote: { url: location.origin }, files: FILES });
$('#store').textContent = `${svc.storeKind} · ${svc.storeNote}`;
await svc.register('view', 'home', { label: 'Home (registered in code)', columns: ['name', 'owner'] });
showLink(svc.online);
svc.onStatus(({ online }) => showLink(online));
await showTypes();

function showLink(online) {
  const link = $('#link');
  link.textContent = online ? '● connected to the server' : '● offline: reads come from the cache';
  link.className = online ? 'live idle' : 'live offline';
}

async function showTypes() {
  const types = new Set(['app', 'view']);
  for (const r of (await svc.query({})).items) types.add(r.type);
  const select = $('#type');
  select.replaceChildren(...[...types].sort().map((t) => new Option(t, t)));
  state.type = types.has('object') ? 'object' : [...types][0];
  select.value = state.type;
  await showList();
}

$('#type').addEventListener('change', async (e) => {
  state.type = e.target.value;
  await showList();
});

async function showList() {
  const items = await svc.resolveMany(state.type);
  $('#list').replaceChildren(...items.map((item) => {
    const li = document.createElement('li');
    li.dataset.name = item.name;
    li.classList.toggle('selected', item.name === state.name);
    const name = document.createElement('span');
    name.textContent = item.name;
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = item.record ? `v${item.record.version}` : item.layer;
    li.append(name, badge);
    li.addEventListener('click', () => showRecord(state.type, item.name));
    return li;
  }));
}

function say(text, kind = '') {
  const m = $('#message');
  m.textContent = text;
  m.className = kind;
}

async function showRecord(type, name, { keepMessage = false } = {}) {
  state.type = type;
  state.name = name;
  const r = await svc.resolve(type, name);
  $('#detail').hidden = false;
  $('#empty').hidden = true;
  for (const li of $('#list').children) li.classList.toggle('selected', li.dataset.name === name);
  $('#title').textContent = `${type} / ${name}`;
  const rec = r.record;
  const fields = [
    ['layer', r.layer ?? 'none'],
    ['version', rec?.version ?? '—'],
    ['checksum', rec?.checksum ?? '—'],
    ['source', rec?.source ?? '—'],
    ['tags', rec?.tags?.join(', ') || '—'],
    ['owner', rec?.owner ?? '—'],
    ['tenant', rec ? rec.tenant_id ?? 'global' : '—'],
    ['updated', rec ? `${rec.updated_at} by ${rec.updated_by}` : '—'],
  ];
  $('#meta').replaceChildren(...fields.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.dataset.field = k;
    dd.textContent = String(v);
    return [dt, dd];
  }));
  $('#editor').value = r.data ? JSON.stringify(r.data, null, 2) : '{}';
  $('#tags').value = rec?.tags?.join(', ') ?? '';
  state.base = rec?.version ?? 0;
  state.dirty = false;
  if (!keepMessage) say(r.degraded.length ? `degraded: ${r.degraded.map((d) => d.message).join('; ')}` : '');
  await showHistory(type, name);
}

async function showHistory(type, name) {
  const rows = (await svc.history(type, name)).reverse().map((h) => {
    const tr = document.createElement('tr');
    for (const [text, mono] of [[`v${h.version}`], [h.operation], [h.checksum.slice(0, 12), true], [h.actor], [h.timestamp]]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (mono) td.className = 'mono';
      tr.append(td);
    }
    const td = document.createElement('td');
    if (h.version !== state.base && h.operation !== 'purge') {
      const b = document.createElement('button');
      b.className = 'secondary';
      b.textContent = 'Roll back';
      b.addEventListener('click', () => act(() => svc.rollback(type, name, h.version, { expectedVersion: state.base }), `rolled back to v${h.version}`));
      td.append(b);
    }
    tr.append(td);
    return tr;
  });
  $('#history tbody').replaceChildren(...rows);
}

async function act(write, done) {
  try {
    const out = await write();
    await showRecord(state.type, state.name, { keepMessage: true });
    say(out?.changed === false ? 'nothing changed' : `${done}: now v${out?.record?.version ?? '—'}`, 'ok');
    await showList();
  } catch (e) {
    if (e.code === 'CONFLICT') {
      say(`CONFLICT: version ${e.actualVersion} was saved meanwhile; your edit is based on v${state.base}. The server's version is shown; apply your edit to it again.`, 'error');
      const draft = $('#editor').value;
      await showRecord(state.type, state.name, { keepMessage: true });
      // The refused draft stays at hand.
      $('#editor').value = draft;
      state.dirty = true;
    } else {
      say(`${e.code ?? 'ERROR'}: ${e.message}`, 'error');
    }
  }
}

$('#editor').addEventListener('input', () => { state.dirty = true; });
$('#save').addEventListener('click', () => {
  let data;
  try {
    data = JSON.parse($('#editor').value);
  } catch (e) {
    say(`not JSON: ${e.message}`, 'error');
    return;
  }
  const tags = $('#tags').value.split(',').map((t) => t.trim()).filter(Boolean);
  act(() => svc.save(state.type, state.name, data, { expectedVersion: state.base, tags }), 'saved');
});
$('#delete').addEventListener('click', () => act(() => svc.delete(state.type, state.name, { expectedVersion: state.base }), 'deleted'));

svc.subscribe(async (e) => {
  if (!e.remote) return;
  const live = $('#live');
  live.textContent = `● changed in another window: ${e.type}/${e.name} v${e.version}`;
  live.className = 'live changed';
  clearTimeout(state.liveTimer);
  state.liveTimer = setTimeout(() => { live.textContent = '● in sync'; live.className = 'live idle'; }, 8000);
  const current = e.type === state.type && e.name === state.name;
  // Tell an editor at once, before anything is awaited.
  if (current && state.dirty) say(`${e.type}/${e.name} changed in another window (now v${e.version}); your edit is based on v${state.base}.`, 'error');
  if (e.type === state.type) await showList();
  if (current && !state.dirty) await showRecord(e.type, e.name, { keepMessage: true });
});
document.body.dataset.ready = 'true';
