// The Node path end to end, on the embedded default storage (SQLite):
// import the platform objects, edit with optimistic concurrency, look at
// history, roll back, override per tenant, then export and verify with the
// command-line tool. `node examples/node-demo.mjs [workdir]`
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MetadataService, checksum } from '@objectstack/metadata-wasm';
import { openSqliteStore } from '@objectstack/metadata-wasm/sqlite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = process.argv[2] ?? join(root, 'target', 'demo');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const dbPath = join(work, 'metadata.db');
const say = (label, value = '') => console.log(`${label.padEnd(44)} ${value}`);

const corpus = JSON.parse(readFileSync(join(root, 'tests', 'data', 'platform-objects.json'), 'utf8'));
const store = await openSqliteStore(dbPath);
const svc = await MetadataService.create({ store, actor: 'alice' });
let t = performance.now();
const imported = await svc.saveMany(corpus.map((o) => ({ type: o.type, name: o.name, data: o.data, options: { source: 'migration', tags: ['platform'] } })));
say(`saveMany: ${imported.length} platform objects`, `${(performance.now() - t).toFixed(1)} ms, one transaction -> ${dbPath}`);
svc.subscribe((e) => say(`  event #${e.sequence}`, `${e.operation} ${e.type}/${e.name} v${e.version}`));

const account = await svc.loadRecord('object', 'sys_account');
say('loadRecord(object, sys_account)', `v${account.version} ${account.checksum} source=${account.source} tags=${account.tags}`);
const edited = { ...account.data, label: 'Linked account' };
const saved = await svc.save('object', 'sys_account', edited, { expectedVersion: account.version });
say('save with expectedVersion', `v${saved.record.version} (changed: ${saved.changed})`);
try {
  await svc.save('object', 'sys_account', { ...edited, label: 'Stale edit' }, { expectedVersion: account.version });
} catch (error) {
  say('stale save with the old expectedVersion', `${error.code}: ${error.message}`);
}
const again = await svc.save('object', 'sys_account', JSON.parse(JSON.stringify(edited)));
say('same data saved again', `v${again.record.version} (changed: ${again.changed})`);
await svc.rollback('object', 'sys_account', 1);
for (const h of await svc.history('object', 'sys_account')) {
  say(`  history v${h.version}`, `${h.operation.padEnd(8)} ${h.checksum} by ${h.actor}`);
}

const acme = await MetadataService.create({ store, tenant: 'acme', actor: 'carol' });
await acme.save('object', 'sys_account', { ...edited, label: 'Acme accounts' });
say('tenant acme sees its override', (await acme.load('object', 'sys_account')).label);
say('global scope still sees', (await svc.load('object', 'sys_account')).label);
say('checksum() of {"b":1,"a":2}', checksum({ b: 1, a: 2 }));
store.close();

const cli = join(root, 'pkg', 'cli.js');
t = performance.now();
const exported = execFileSync(process.execPath, [cli, 'export', join(work, 'export'), '--db', dbPath, '--format', 'typescript', '--quiet'], { encoding: 'utf8' }).trim();
say('cli export --format typescript', `${exported} (${(performance.now() - t).toFixed(0)} ms)`);
const verified = execFileSync(process.execPath, [cli, 'verify', '--db', dbPath, '--quiet'], { encoding: 'utf8' }).trim();
say('cli verify', verified);
