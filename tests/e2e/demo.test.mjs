// End to end on the demo page in Debian's Chromium (playwright-core): the
// page is an IndexedDB cache of the metadata server that serves it.
// Persistence across reloads, live changes across tabs and across browser
// contexts (separate storage: only the server links them), refused
// conflicting edits shown with the server's version, reads served after the
// server is stopped, and screenshots as artefacts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startDemo } from '../../scripts/serve.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const artefacts = join(root, 'target', 'artifacts');
let demo;
let url;
let browser;
let profile;
let context;
let dataDir;
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'];

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'osm-e2e-data-'));
  demo = await startDemo({ port: 0, dataDir });
  url = demo.url;
  profile = mkdtempSync(join(tmpdir(), 'osm-e2e-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ARGS,
  });
  browser = context;
});

after(async () => {
  await browser?.close();
  await demo?.close();
  for (const d of [profile, dataDir]) if (d) rmSync(d, { recursive: true, force: true });
});

async function open({ withoutBroadcastChannel = false, within = context } = {}) {
  const page = await within.newPage();
  if (withoutBroadcastChannel) {
    // Browsers without BroadcastChannel: the storage event must carry changes.
    await page.addInitScript(() => { delete window.BroadcastChannel; });
  }
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // A refused write is an answer of the protocol (409), which the browser
  // logs as a failed load: not an error of the page.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 409/.test(m.text())) errors.push(m.text());
  });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  page.errors = errors;
  return page;
}

const field = (page, name) => page.textContent(`#meta dd[data-field="${name}"]`);

async function select(page, type, name) {
  await page.selectOption('#type', type);
  await page.click(`#list li[data-name="${name}"]`);
  await page.waitForFunction((n) => document.querySelector('#title')?.textContent?.endsWith(n), name);
}

async function editLabel(page, label) {
  const data = JSON.parse(await page.inputValue('#editor'));
  data.label = label;
  await page.fill('#editor', JSON.stringify(data, null, 2));
}

test('the page opens on an IndexedDB cache of the server, with the seeded records and all three layers', async () => {
  const page = await open();
  assert.match(await page.textContent('#store'), /^indexeddb · IndexedDB \(auto\); cache of http:\/\/127\.0\.0\.1:\d+\/api\/v1\/metadata$/);
  assert.equal(await page.textContent('#link'), '● connected to the server');
  assert.equal(await page.locator('#list li').count(), 52);
  await select(page, 'object', 'sys_account');
  assert.equal(await field(page, 'layer'), 'database');
  assert.equal(await field(page, 'version'), '1');
  assert.match(await field(page, 'checksum'), /^[0-9a-f]{32}$/);
  assert.equal(await field(page, 'source'), 'migration');
  await select(page, 'view', 'home');
  assert.equal(await field(page, 'layer'), 'registry');
  await select(page, 'app', 'crm');
  assert.equal(await field(page, 'layer'), 'filesystem');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the page works under a strict Content Security Policy (no eval, no new Function)', async () => {
  const page = await context.newPage();
  const violations = [];
  await page.exposeFunction('reportViolation', (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => window.reportViolation(`${e.violatedDirective}: ${e.blockedURI}`));
  });
  const response = await page.goto(url);
  assert.equal(response.headers()['content-security-policy'], "script-src 'self' 'wasm-unsafe-eval'");
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  // IndexedDB (whose glue once built a handler with new Function) is in use.
  assert.match(await page.textContent('#store'), /^indexeddb/);
  await select(page, 'object', 'sys_device_code');
  await editLabel(page, 'Under CSP');
  await page.click('#save');
  await page.waitForSelector('#message.ok');
  assert.equal(await field(page, 'version'), '2');
  assert.deepEqual(violations, [], 'the package and the page broke no rule of the policy');
  assert.deepEqual(page.errors ?? [], []);
  // The policy is in force: an inline script is refused.
  const ran = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.inlineRan = true;';
    document.head.append(s);
    await new Promise((r) => setTimeout(r, 50));
    return window.inlineRan === true;
  });
  assert.equal(ran, false);
  for (let i = 0; i < 100 && violations.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(violations.length, 1, violations.join('; '));
  await page.close();
});

test('an edit is saved as a new version and is still there after a reload', async () => {
  const page = await open();
  await select(page, 'object', 'sys_account');
  await editLabel(page, 'Linked accounts');
  await page.fill('#tags', 'platform, auth');
  await page.click('#save');
  await page.waitForSelector('#message.ok');
  assert.equal(await field(page, 'version'), '2');
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await select(page, 'object', 'sys_account');
  assert.equal(await field(page, 'version'), '2');
  assert.equal(await field(page, 'tags'), 'platform, auth');
  assert.equal(JSON.parse(await page.inputValue('#editor')).label, 'Linked accounts');
  assert.equal(await page.locator('#history tbody tr').count(), 2);
  await page.close();
});

test('two tabs: an edit in one shows live in the other, and a stale edit is refused', async () => {
  const a = await open();
  const b = await open();
  await select(a, 'view', 'all_accounts');
  await select(b, 'view', 'all_accounts');
  assert.equal(await field(b, 'version'), '1');
  // b starts editing; a saves first.
  await editLabel(b, 'Edited in tab B');
  await editLabel(a, 'Edited in tab A');
  await a.click('#save');
  await a.waitForSelector('#message.ok');
  await b.waitForSelector('#live.changed', { timeout: 10000 });
  assert.match(await b.textContent('#live'), /view\/all_accounts v2/);
  // The editor is told its draft is based on an old version, and keeps it.
  await b.waitForFunction(() => /changed in another window \(now v2\)/.test(document.querySelector('#message').textContent));
  assert.equal(JSON.parse(await b.inputValue('#editor')).label, 'Edited in tab B');
  // b's save is based on version 1: refused, nothing overwritten.
  await b.click('#save');
  await b.waitForFunction(() => /^CONFLICT/.test(document.querySelector('#message').textContent));
  assert.match(await b.textContent('#message'), /CONFLICT: version 2 was saved meanwhile/);
  // The page shows the server's version, and keeps the refused draft.
  assert.equal(await field(b, 'version'), '2');
  assert.equal(JSON.parse(await b.inputValue('#editor')).label, 'Edited in tab B');
  mkdirSync(artefacts, { recursive: true });
  await b.screenshot({ path: join(artefacts, 'demo-conflict.png'), fullPage: true });
  // A tab that is not editing follows the change by itself.
  const c = await open();
  await select(c, 'view', 'all_accounts');
  await editLabel(a, 'Edited again in tab A');
  await a.click('#save');
  await c.waitForFunction(() => document.querySelector('#meta dd[data-field="version"]')?.textContent === '3');
  assert.equal(JSON.parse(await c.inputValue('#editor')).label, 'Edited again in tab A');
  await c.screenshot({ path: join(artefacts, 'demo.png'), fullPage: true });
  for (const p of [a, b, c]) assert.deepEqual(p.errors, []);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('the package in two tabs without BroadcastChannel: changes still reach the other tab (storage event)', async () => {
  const [a, b] = [await open({ withoutBroadcastChannel: true }), await open({ withoutBroadcastChannel: true })];
  assert.equal(await a.evaluate(() => typeof window.BroadcastChannel), 'undefined');
  // Services on the same IndexedDB database, no server: only the tabs'
  // own link carries the change.
  const setup = async () => {
    const { MetadataService } = await import('/pkg/index.web.js');
    window.tabs = await MetadataService.create({ store: 'indexeddb', namespace: 'tab-link' });
    window.heard = [];
    window.tabs.subscribe((e) => window.heard.push(e));
    return window.tabs.sharesAcrossTabs;
  };
  assert.deepEqual([await a.evaluate(setup), await b.evaluate(setup)], [true, true]);
  await a.evaluate(() => window.tabs.save('view', 'via_storage_event', { label: 'Sessions, via the storage event' }));
  await b.waitForFunction(() => window.heard.some((e) => e.name === 'via_storage_event' && e.remote === true));
  assert.equal(await b.evaluate(async () => (await window.tabs.load('view', 'via_storage_event')).label), 'Sessions, via the storage event');
  for (const p of [a, b]) assert.deepEqual(p.errors, []);
  await Promise.all([a.close(), b.close()]);
});

test('history rollback from the page', async () => {
  const page = await open();
  await select(page, 'view', 'all_accounts');
  const before = Number(await field(page, 'version'));
  await page.click('#history tbody tr:last-child button');
  await page.waitForSelector('#message.ok');
  assert.equal(Number(await field(page, 'version')), before + 1);
  assert.equal(JSON.parse(await page.inputValue('#editor')).label, 'All accounts');
  await page.close();
});

test('the package in a page: a storage bucket with a small quota refuses a save that does not fit', async () => {
  const page = await open();
  const out = await page.evaluate(async () => {
    const { MetadataService } = await import('/pkg/index.web.js');
    const name = `e2e-${Date.now()}`;
    const svc = await MetadataService.create({ store: 'indexeddb', namespace: 'quota', bucket: { name, quota: 200 * 1024 } });
    await svc.save('view', 'kept', { v: 1 });
    let random = '';
    while (random.length < 1 << 20) random += Math.random().toString(36).slice(2);
    let error = null;
    try {
      await svc.save('view', 'kept', { big: random });
    } catch (e) {
      error = { name: e.name, code: e.code, message: e.message };
    }
    const record = await svc.loadRecord('view', 'kept');
    const history = await svc.history('view', 'kept');
    const result = { note: svc.storeNote, kind: svc.storeKind, error, version: record.version, data: record.data, history: history.length };
    svc.free();
    await navigator.storageBuckets.delete(name);
    return result;
  });
  assert.equal(out.kind, 'indexeddb');
  assert.match(out.note, /^IndexedDB in storage bucket "e2e-\d+", as asked$/);
  assert.equal(out.error?.name, 'MetadataError');
  assert.equal(out.error?.code, 'QUOTA_EXCEEDED', out.error?.message);
  assert.deepEqual([out.version, out.data, out.history], [1, { v: 1 }, 1]);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the package in a page: metadata files as JSON and TypeScript; YAML, left out of the browser module, is UNSUPPORTED', async () => {
  const page = await open();
  const out = await page.evaluate(async () => {
    const { MetadataService, parseMetadataFile, renderMetadataFile } = await import('/pkg/index.web.js');
    const failure = (f) => { try { f(); return null; } catch (e) { return { name: e.name, code: e.code, message: e.message }; } };
    const json = parseMetadataFile('views/a.view.json', '{"label":"A"}');
    const ts = parseMetadataFile('views/b.view.ts', 'export default { "label": "B" };');
    const parseYaml = failure(() => parseMetadataFile('views/c.view.yaml', 'label: C\n'));
    const renderYaml = failure(() => renderMetadataFile('view', 'c', { label: 'C' }, 'yaml'));
    const rendered = renderMetadataFile('view', 'c', { label: 'C' }, 'typescript');
    let create = null;
    try {
      await MetadataService.create({ store: 'memory', files: { 'views/a.view.json': '{"label":"A"}', 'views/c.view.yml': 'label: C\n' } });
    } catch (e) {
      create = { name: e.name, code: e.code, message: e.message };
    }
    const svc = await MetadataService.create({ store: 'memory', files: { 'views/a.view.json': '{"label":"A"}', 'views/b.view.ts': 'export default { "label": "B" };' } });
    const loaded = [await svc.load('view', 'a'), await svc.load('view', 'b')];
    svc.free();
    return { json, ts, parseYaml, renderYaml, rendered, create, loaded };
  });
  assert.deepEqual(out.json, { type: 'view', name: 'a', format: 'json', data: { label: 'A' } });
  assert.deepEqual(out.ts, { type: 'view', name: 'b', format: 'typescript', data: { label: 'B' } });
  assert.deepEqual(out.rendered, { path: 'views/c.view.ts', text: 'export default {\n  "label": "C"\n};\n' });
  for (const e of [out.parseYaml, out.renderYaml, out.create]) {
    assert.equal(e?.name, 'MetadataError');
    assert.equal(e.code, 'UNSUPPORTED', e.message);
    assert.match(e.message, /reads and writes no YAML .* JSON .* TypeScript/);
  }
  assert.match(out.parseYaml.message, /views\/c\.view\.yaml/);
  assert.match(out.create.message, /views\/c\.view\.yml/);
  assert.deepEqual(out.loaded, [{ label: 'A' }, { label: 'B' }]);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the package in a page: without the Storage Buckets API, a bucket is UNSUPPORTED, and auto says it fell back', async () => {
  const page = await context.newPage();
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'storageBuckets', { get: () => undefined, configurable: true });
  });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  const out = await page.evaluate(async () => {
    const { MetadataService } = await import('/pkg/index.web.js');
    let error = null;
    try {
      await MetadataService.create({ store: 'indexeddb', namespace: 'nobucket', bucket: 'meta' });
    } catch (e) {
      error = { name: e.name, code: e.code, message: e.message };
    }
    const auto = await MetadataService.create({ store: 'auto', namespace: 'nobucket', bucket: 'meta' });
    await auto.save('view', 'v', { a: 1 });
    const result = { error, kind: auto.storeKind, note: auto.storeNote, data: await auto.load('view', 'v') };
    auto.free();
    return result;
  });
  assert.equal(out.error?.code, 'UNSUPPORTED', out.error?.message);
  assert.match(out.error.message, /storageBuckets/);
  assert.equal(out.kind, 'indexeddb');
  assert.match(out.note, /^IndexedDB \(auto\): storage bucket unavailable: .*storageBuckets/);
  assert.deepEqual(out.data, { a: 1 });
  await page.close();
});

test('two browsers through the server: live changes, a refused conflicting edit shown with the server\'s version, reads after the server is stopped', async () => {
  // Two contexts: separate storage, so only the server links them.
  const other = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ARGS });
  const second = await other.newContext({ viewport: { width: 1280, height: 860 } });
  try {
    const a = await open();
    const b = await open({ within: second });
    await select(a, 'object', 'sys_session');
    await select(b, 'object', 'sys_session');
    const base = Number(await field(b, 'version'));
    // a saves: b, not editing, follows live.
    await editLabel(a, 'Sessions (window A)');
    await a.click('#save');
    await a.waitForSelector('#message.ok');
    await b.waitForFunction((v) => document.querySelector('#meta dd[data-field="version"]')?.textContent === String(v), base + 1);
    assert.match(await b.textContent('#live'), /changed in another window: object\/sys_session/);
    assert.equal(JSON.parse(await b.inputValue('#editor')).label, 'Sessions (window A)');
    // Both edit version base+1; a saves first; b is refused and shown the server's version.
    await editLabel(b, 'Sessions (window B)');
    await editLabel(a, 'Sessions (window A, again)');
    await a.click('#save');
    await a.waitForSelector('#message.ok');
    // b's page does not wait for the stream: its save is refused by the server.
    await b.click('#save');
    await b.waitForFunction(() => /^CONFLICT/.test(document.querySelector('#message').textContent));
    assert.match(await b.textContent('#message'), new RegExp(`CONFLICT: version ${base + 2} was saved meanwhile`));
    assert.equal(await field(b, 'version'), String(base + 2));
    mkdirSync(artefacts, { recursive: true });
    await b.screenshot({ path: join(artefacts, 'demo-two-browsers-conflict.png'), fullPage: true });
    // The server stops: the pages say so, and keep answering from their caches.
    await demo.close();
    await a.waitForFunction(() => document.querySelector('#link').textContent.includes('offline'), null, { timeout: 15000 });
    await select(a, 'view', 'all_accounts');
    assert.equal(await field(a, 'layer'), 'database');
    await select(a, 'object', 'sys_session');
    assert.equal(JSON.parse(await a.inputValue('#editor')).label, 'Sessions (window A, again)');
    await a.screenshot({ path: join(artefacts, 'demo-offline.png'), fullPage: true });
    // Writes say why they cannot go through.
    await editLabel(a, 'offline edit');
    await a.click('#save');
    await a.waitForFunction(() => /^STORAGE_UNAVAILABLE/.test(document.querySelector('#message').textContent));
    await Promise.all([a.close(), b.close()]);
  } finally {
    await other.close();
    // Back for whatever runs after.
    demo = await startDemo({ port: Number(new URL(url).port), dataDir });
  }
});
