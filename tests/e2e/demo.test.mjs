// End to end on the demo page in Debian's Chromium (playwright-core):
// persistence across reloads (IndexedDB), live changes across tabs, a
// refused conflicting edit, and a screenshot as an artefact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const artefacts = join(root, 'target', 'artifacts');
let server;
let url;
let browser;
let profile;
let context;

before(async () => {
  ({ server, url } = await startServer(0));
  profile = mkdtempSync(join(tmpdir(), 'osm-e2e-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
  browser = context;
});

after(async () => {
  await browser?.close();
  server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function open({ withoutBroadcastChannel = false } = {}) {
  const page = await context.newPage();
  if (withoutBroadcastChannel) {
    // Browsers without BroadcastChannel: the storage event must carry changes.
    await page.addInitScript(() => { delete window.BroadcastChannel; });
  }
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
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

test('the page opens on IndexedDB with the seeded records and all three layers', async () => {
  const page = await open();
  assert.match(await page.textContent('#store'), /^indexeddb/);
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
  await b.waitForFunction(() => /changed in another tab \(now v2\)/.test(document.querySelector('#message').textContent));
  assert.equal(JSON.parse(await b.inputValue('#editor')).label, 'Edited in tab B');
  // b's save is based on version 1: refused, nothing overwritten.
  await b.click('#save');
  await b.waitForFunction(() => /^CONFLICT/.test(document.querySelector('#message').textContent));
  assert.match(await b.textContent('#message'), /CONFLICT: version 2 was saved meanwhile/);
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

test('without BroadcastChannel, changes still reach the other tab (storage event)', async () => {
  const a = await open({ withoutBroadcastChannel: true });
  const b = await open({ withoutBroadcastChannel: true });
  assert.equal(await a.evaluate(() => typeof window.BroadcastChannel), 'undefined');
  await select(a, 'view', 'recent_sessions');
  await select(b, 'view', 'recent_sessions');
  const before = Number(await field(b, 'version'));
  await editLabel(a, 'Sessions, via the storage event');
  await a.click('#save');
  await b.waitForFunction((v) => document.querySelector('#meta dd[data-field="version"]')?.textContent === String(v), before + 1);
  assert.match(await b.textContent('#live'), /changed in another tab: view\/recent_sessions/);
  assert.equal(JSON.parse(await b.inputValue('#editor')).label, 'Sessions, via the storage event');
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
