// Helpers of the consumer tests: where the installed projects are, running
// their commands, and the browser scenario every bundler's build must pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

const work = process.env.CONSUMER_DIR;
if (!work) {
  throw new Error('the consumer tests run through tests/consumer/run.mjs, which packs and installs the package first');
}

/** The folder holding everything the runner made (the tarball, projects). */
export const workDir = work;

/** The folder of an installed fixture project. */
export const project = (name) => join(work, name);

/**
 * Runs a command in `cwd`; resolves to { code, out, err } whatever the exit
 * code, so tests can assert on failures too.
 */
export function run(cmd, args, { cwd, env = process.env, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
    child.stdin.end(input ?? '');
  });
}

/** Like `run`, but a non-zero exit fails with everything the command printed. */
export async function ok(cmd, args, options) {
  const r = await run(cmd, args, options);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited with ${r.code}\n${r.out}\n${r.err}`);
  return r;
}

/** Serves `dir` on 127.0.0.1 (a free port); resolves to { server, url }. */
// The fixtures' pages report load errors with an inline script: no CSP.
export const serve = (dir) => startServer(0, [['/', dir]], { csp: false });

/** Headless Chromium (Debian's), as the repository's end-to-end tests run it. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

/**
 * The web app of fixtures/web-app, built or served by a bundler at the URL
 * `target()` gives once `before` hooks ran: registers the tests every bundler
 * must pass. Each bundler gets a fresh browser context (its own IndexedDB).
 */
export function webAppTests(target) {
  let browser;
  let context;

  before(async () => {
    browser = await launchChromium();
    context = await browser.newContext();
  });
  after(async () => {
    await browser?.close();
  });

  async function open(page) {
    page ??= await context.newPage();
    page.errors ??= [];
    if (!page.listening) {
      page.on('pageerror', (e) => page.errors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
      page.listening = true;
    }
    await page.goto(target());
    // The app marks the body when it is ready, or shows why it is not.
    await page.waitForSelector('body[data-ready]', { timeout: 30000 });
    const failure = await page.textContent('#error');
    assert.equal(failure, '', `the app failed to start: ${failure}\n${page.errors.join('\n')}`);
    return page;
  }

  test('the page opens the package on IndexedDB (store: auto)', async () => {
    const page = await open();
    assert.equal(await page.textContent('#store'), 'indexeddb: IndexedDB (auto)');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('a record saved on the page is loaded from IndexedDB after a reload', async () => {
    const page = await open();
    const saved = await page.evaluate(async () => {
      const { record, changed } = await window.app.svc.save('view', 'from_page', { label: 'Saved on the page', columns: ['name'] });
      return { version: record.version, checksum: record.checksum, changed };
    });
    assert.deepEqual({ version: saved.version, changed: saved.changed }, { version: 1, changed: true });
    await open(page); // reload: a new module instance, a new service
    const loaded = await page.evaluate(async () => {
      const svc = window.app.svc;
      const record = await svc.loadRecord('view', 'from_page');
      return { kind: svc.storeKind, data: await svc.load('view', 'from_page'), version: record?.version, checksum: record?.checksum };
    });
    assert.deepEqual(loaded, {
      kind: 'indexeddb',
      data: { label: 'Saved on the page', columns: ['name'] },
      version: 1,
      checksum: saved.checksum,
    });
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('in a Web Worker: auto opens IndexedDB, localStorage is refused with the reason', async () => {
    const page = await open();
    const result = await page.evaluate(() => window.app.inWorker());
    assert.equal(result.error, undefined, `the worker failed: ${result.error}`);
    assert.equal(result.note, 'IndexedDB (auto)');
    assert.equal(result.kind, 'indexeddb');
    assert.equal(result.version, 1);
    assert.equal(result.localStorage.code, 'STORAGE_UNAVAILABLE');
    assert.equal(result.localStorage.name, 'MetadataError');
    assert.match(result.localStorage.message, /localStorage .*not in a worker/);
    // What the worker saved is in the page's IndexedDB: the same database.
    const fromWorker = await page.evaluate(() => window.app.svc.load('view', 'from_worker'));
    assert.deepEqual(fromWorker, { label: 'Saved in a worker' });
    assert.deepEqual(page.errors, []);
    await page.close();
  });
}
