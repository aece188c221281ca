#!/usr/bin/env node
// objectstack-metadata: import, export, history and verify over the SQLite
// default store, or PostgreSQL with --database-url (or DATABASE_URL). Exit codes: 0 success, 1 failure (an error, or mismatches
// found by verify), 2 usage error.

import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  MetadataService,
  checksum,
  renderMetadataFile,
} from './index.node.js';
import { openStore } from './open-store.js';

const USAGE = `usage: objectstack-metadata <command> [options]

commands:
  import <dir>              import a project's metadata (source: migration): its *.object.ts,
                            *.view.ts, ... modules (run in a worker; needs esbuild) and JSON /
                            YAML files, in one transaction
  export <dir>              write every active record as a file: <folder>/<name>.<type>.<ext>
  history <type> <name>     list every version of a record
  verify                    recompute every stored checksum and report mismatches
  serve                     the metadata server (REST, upstream's /api/v1/meta, change stream) until stopped

options:
  --db <file>               SQLite database (default ./metadata.db)
  --database-url <url>      PostgreSQL instead (postgres://user:password@host:5432/db); also
                            DATABASE_URL when --db is not given
  --tenant <id>             work for one tenant (default: global records)
  --actor <user>            who is acting (default: $USER or 'cli')
  --format <f>              export format: json | yaml | typescript (default json)
  --json                    machine-readable output (import, history, verify)
  --dry-run                 import: report what would be created / updated / unchanged; write nothing
  --skip-invalid            import: import the rest when definitions are refused (then exit code 1)
  --timeout <ms>            import: time limit for loading one module (default 10000)
  --types <a,b,...>         import: more metadata types to find by file suffix (<file>.<type>.ts)
  --port <n>                serve: port (default 3000; 0 picks a free one)
  --host <h>                serve: address (default 127.0.0.1; without --tokens, loopback only)
  --tokens <file>           serve: JSON { "<token>": { "actor", "roles", "tenant" } }; none: development mode
  --policy <file>           serve: the access policy JSON ({ "roles": { "<role>": { "<type>|*": [...] } } })
  --quiet                   no progress output
  -h, --help                this text

exit codes: 0 success, 1 failure or mismatches, 2 usage error`;

class UsageError extends Error {}

const PROGRESS_EVERY = 250;

function progress(options, message) {
  if (!options.quiet) process.stderr.write(`${message}\n`);
}

async function openService(options, { readonly = false, optional = false } = {}) {
  const store = await openStore({ db: options.db, databaseUrl: options['database-url'] }, { readonly, optional });
  if (store === null) return { store: null, service: null };
  const service = await MetadataService.create({
    store,
    tenant: options.tenant ?? null,
    actor: options.actor,
    cache: false,
  });
  return { store, service };
}

function positiveInteger(value, option) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${option} must be a whole number from 1, not ${JSON.stringify(value)}`);
  }
  return n;
}

// What importing `items` does to each: an active record of this scope with
// the same checksum is unchanged (whatever its source: an export of records
// saved through the API re-imports as nothing), and is not written; any other
// record of this scope is updated; none is created.
async function planImport(service, items, tenant) {
  const own = new Map();
  if (service !== null) {
    for (const r of (await service.query({})).items) {
      if ((r.tenant_id ?? null) === (tenant ?? null)) own.set(`${r.type}/${r.name}`, r);
    }
  }
  return items.map((item) => {
    const current = own.get(`${item.type}/${item.name}`);
    if (current === undefined) return 'created';
    const same = current.is_active && current.checksum === checksum(item.data);
    return same ? 'unchanged' : 'updated';
  });
}

function summarise(items, outcomes) {
  const total = { created: 0, updated: 0, unchanged: 0 };
  const types = {};
  items.forEach((item, i) => {
    types[item.type] ??= { records: 0, created: 0, updated: 0, unchanged: 0 };
    types[item.type].records += 1;
    types[item.type][outcomes[i]] += 1;
    total[outcomes[i]] += 1;
  });
  return { total, types };
}

async function importCommand(dir, options) {
  const { loadProject, formatRefusal, refusalError } = await import('./project.js');
  const dryRun = options['dry-run'];
  const types = (options.types ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  const timeoutMs = positiveInteger(options.timeout, '--timeout');
  // Packages the project's modules import resolve from the project, then
  // from NODE_PATH, as in Node itself.
  const nodePaths = (process.env.NODE_PATH ?? '').split(delimiter).filter(Boolean);
  progress(options, `reading ${dir}`);
  const loaded = await loadProject(dir, {
    types,
    nodePaths,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    // Every file of a project; on a long run every 250th, and any refusal.
    onProgress: (p) => {
      if (p.total > PROGRESS_EVERY && p.index % PROGRESS_EVERY !== 0 && p.index !== p.total && p.refused === 0) return;
      const found = `${p.definitions} ${p.type ?? 'definition'}${p.definitions === 1 ? '' : 's'}`;
      progress(options, `[${p.index}/${p.total}] ${p.file}: ${found}${p.refused > 0 ? `, ${p.refused} refused` : ''}`);
    },
  });
  for (const s of loaded.skipped) progress(options, `skipped ${s.file}${s.export === null ? '' : ` export ${s.export}`}: ${s.reason}`);
  for (const r of loaded.refusals) console.error(`refused: ${formatRefusal(r)}`);
  if (loaded.refusals.length > 0 && !options['skip-invalid']) {
    const error = refusalError(loaded);
    error.message += '; nothing was written (--skip-invalid imports the rest)';
    throw error;
  }
  const items = loaded.definitions.map((d) => ({ type: d.type, name: d.name, data: d.data, options: { source: 'migration' } }));

  let store = null;
  let outcomes;
  try {
    // A dry run opens an existing database read-only and creates none.
    let service;
    ({ store, service } = await openService(options, { optional: dryRun }));
    outcomes = await planImport(service, items, options.tenant);
    const writes = items.filter((_, i) => outcomes[i] !== 'unchanged');
    if (!dryRun && writes.length > 0) {
      progress(options, `writing ${writes.length} records in one transaction`);
      const saved = await service.saveMany(writes);
      // The service decides; the plan only tells a creation from an update.
      const decided = new Map(writes.map((item, i) => [item, saved[i].changed]));
      outcomes = outcomes.map((o, i) => (decided.get(items[i]) === false ? 'unchanged' : o));
    }
  } finally {
    await store?.close();
  }

  const { total, types: perType } = summarise(items, outcomes);
  const refused = loaded.refusals.length;
  if (options.json) {
    console.log(JSON.stringify({
      dryRun, files: loaded.scanned, metadataFiles: loaded.files.length, records: items.length, ...total, types: perType,
      refused: loaded.refusals, skipped: loaded.skipped, ignored: loaded.ignored,
    }, null, 2));
  } else {
    const verb = dryRun ? 'would import' : 'imported';
    console.log(`${verb} ${items.length} records from ${loaded.scanned} files: ${total.created} created, ${total.updated} updated, ${total.unchanged} unchanged${dryRun ? ' (dry run: nothing written)' : ''}`);
    const width = Math.max(0, ...Object.keys(perType).map((t) => t.length));
    for (const type of Object.keys(perType).sort()) {
      const t = perType[type];
      console.log(`  ${type.padEnd(width)}  ${String(t.records).padStart(5)}  (${t.created} created, ${t.updated} updated, ${t.unchanged} unchanged)`);
    }
    if (refused > 0) console.log(`refused ${refused} (not imported; listed on stderr)`);
  }
  return refused > 0 ? 1 : 0;
}

async function exportCommand(dir, options) {
  const format = options.format ?? 'json';
  if (!['json', 'yaml', 'typescript'].includes(format)) {
    throw new UsageError(`--format must be json, yaml or typescript, not ${JSON.stringify(format)}`);
  }
  const { store, service } = await openService(options, { readonly: true });
  try {
    const page = await service.query({ active: true });
    for (const [i, record] of page.items.entries()) {
      const { path, text } = renderMetadataFile(record.type, record.name, record.data, format);
      const target = join(dir, ...path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, text);
      if ((i + 1) % PROGRESS_EVERY === 0) progress(options, `wrote ${i + 1}/${page.total} files`);
    }
    console.log(`exported ${page.total} records to ${dir} as ${format}`);
  } finally {
    await store.close();
  }
}

async function historyCommand(type, name, options) {
  const { store, service } = await openService(options, { readonly: true });
  try {
    const entries = await service.history(type, name);
    if (options.json) {
      console.log(JSON.stringify(entries, null, 2));
    } else if (entries.length === 0) {
      console.log(`no history for ${type}/${name}`);
      return 1;
    } else {
      for (const e of entries) {
        console.log(`v${e.version}\t${e.operation}\t${e.checksum}\t${e.actor}\t${e.timestamp}${e.is_active ? '' : '\t(inactive)'}`);
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}

async function verifyCommand(options) {
  const store = await openStore({ db: options.db, databaseUrl: options['database-url'] }, { readonly: true });
  const mismatches = [];
  let checked = 0;
  try {
    for await (const row of store.scan()) {
      checked += 1;
      let computed;
      try {
        computed = checksum(JSON.parse(row.data));
      } catch (error) {
        computed = `unreadable (${error.message})`;
      }
      if (computed !== row.checksum) {
        mismatches.push({ table: row.table, tenant_id: row.tenant_id, type: row.type, name: row.name, version: row.version, stored: row.checksum, computed });
      }
      if (checked % PROGRESS_EVERY === 0) progress(options, `verified ${checked} rows`);
    }
  } finally {
    await store.close();
  }
  if (options.json) {
    console.log(JSON.stringify({ checked, mismatches }, null, 2));
  } else {
    for (const m of mismatches) {
      const scope = m.tenant_id === null ? '' : ` (tenant ${m.tenant_id})`;
      console.log(`MISMATCH ${m.table} ${m.type}/${m.name}${scope} v${m.version}: stored ${m.stored}, computed ${m.computed}`);
    }
    console.log(`verified ${checked} rows: ${mismatches.length} mismatch(es)`);
  }
  return mismatches.length === 0 ? 0 : 1;
}

export async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        db: { type: 'string' },
        'database-url': { type: 'string' },
        tenant: { type: 'string' },
        actor: { type: 'string', default: process.env.USER || 'cli' },
        format: { type: 'string' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        'skip-invalid': { type: 'boolean', default: false },
        timeout: { type: 'string' },
        types: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        tokens: { type: 'string' },
        policy: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  const { values: options, positionals } = parsed;
  const [command, ...args] = positionals;
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const arity = { import: 1, export: 1, history: 2, verify: 0, serve: 0 };
  const known = Object.hasOwn(arity, command);
  if (!known || args.length !== arity[command]) {
    console.error(known ? `${command} takes ${arity[command]} argument(s)\n\n${USAGE}` : USAGE);
    return 2;
  }
  try {
    switch (command) {
      case 'import':
        return await importCommand(args[0], options);
      case 'export':
        await exportCommand(args[0], options);
        return 0;
      case 'history':
        return await historyCommand(args[0], args[1], options);
      case 'serve': {
        const { serveCommand } = await import('./serve.js');
        return await serveCommand(options);
      }
      default:
        return await verifyCommand(options);
    }
  } catch (error) {
    if (error instanceof UsageError || error.usage) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    const code = error.code ? `${error.code}: ` : '';
    console.error(`error: ${code}${error.message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
