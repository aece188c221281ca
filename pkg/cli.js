#!/usr/bin/env node
// objectstack-metadata: import, export, history and verify over the SQLite
// default store. Exit codes: 0 success, 1 failure (an error, or mismatches
// found by verify), 2 usage error.

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { parseArgs } from 'node:util';
import {
  MetadataService,
  checksum,
  parseMetadataFile,
  renderMetadataFile,
} from './index.node.js';
import { openSqliteStore } from './sqlite.js';

const USAGE = `usage: objectstack-metadata <command> [options]

commands:
  import <dir>              import JSON / YAML / TypeScript metadata files (source: migration)
  export <dir>              write every active record as a file: <folder>/<name>.<type>.<ext>
  history <type> <name>     list every version of a record
  verify                    recompute every stored checksum and report mismatches

options:
  --db <file>               SQLite database (default ./metadata.db)
  --tenant <id>             work for one tenant (default: global records)
  --actor <user>            who is acting (default: $USER or 'cli')
  --format <f>              export format: json | yaml | typescript (default json)
  --json                    machine-readable output (history, verify)
  --quiet                   no progress output
  -h, --help                this text

exit codes: 0 success, 1 failure or mismatches, 2 usage error`;

class UsageError extends Error {}

const PROGRESS_EVERY = 250;

function progress(options, message) {
  if (!options.quiet) process.stderr.write(`${message}\n`);
}

async function listFiles(root) {
  const out = [];
  async function walk(dir) {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.push(path);
    }
  }
  await walk(root);
  return out;
}

async function openService(options) {
  const store = await openSqliteStore(options.db);
  const service = await MetadataService.create({
    store,
    tenant: options.tenant ?? null,
    actor: options.actor,
    cache: false,
  });
  return { store, service };
}

async function importCommand(dir, options) {
  const files = await listFiles(dir);
  const items = [];
  const seen = new Map();
  for (const [i, path] of files.entries()) {
    const rel = relative(dir, path).split(sep).join('/');
    const parsed = parseMetadataFile(rel, await readFile(path, 'utf8'));
    if ((i + 1) % PROGRESS_EVERY === 0) progress(options, `parsed ${i + 1}/${files.length} files`);
    if (parsed === null) continue;
    const id = `${parsed.type}/${parsed.name}`;
    if (seen.has(id)) throw new Error(`${id} is defined twice: ${seen.get(id)} and ${rel}`);
    seen.set(id, rel);
    items.push({ type: parsed.type, name: parsed.name, data: parsed.data, options: { source: 'migration' } });
  }
  progress(options, `writing ${items.length} records in one transaction`);
  const { store, service } = await openService(options);
  try {
    const outcomes = await service.saveMany(items);
    const changed = outcomes.filter((o) => o.changed).length;
    const created = outcomes.filter((o) => o.changed && o.record.version === 1).length;
    console.log(`imported ${items.length} records from ${files.length} files: ${created} created, ${changed - created} updated, ${items.length - changed} unchanged`);
  } finally {
    store.close();
  }
}

async function exportCommand(dir, options) {
  const format = options.format ?? 'json';
  if (!['json', 'yaml', 'typescript'].includes(format)) {
    throw new UsageError(`--format must be json, yaml or typescript, not ${JSON.stringify(format)}`);
  }
  const { store, service } = await openService(options);
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
    store.close();
  }
}

async function historyCommand(type, name, options) {
  const { store, service } = await openService(options);
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
    store.close();
  }
}

async function verifyCommand(options) {
  const store = await openSqliteStore(options.db, { readonly: true });
  const mismatches = [];
  let checked = 0;
  try {
    for (const row of store.scan()) {
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
    store.close();
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
        db: { type: 'string', default: './metadata.db' },
        tenant: { type: 'string' },
        actor: { type: 'string', default: process.env.USER || 'cli' },
        format: { type: 'string' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
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
  const arity = { import: 1, export: 1, history: 2, verify: 0 };
  if (!(command in arity) || args.length !== arity[command]) {
    console.error(command in arity ? `${command} takes ${arity[command]} argument(s)\n\n${USAGE}` : USAGE);
    return 2;
  }
  try {
    switch (command) {
      case 'import':
        await importCommand(args[0], options);
        return 0;
      case 'export':
        await exportCommand(args[0], options);
        return 0;
      case 'history':
        return await historyCommand(args[0], args[1], options);
      default:
        return await verifyCommand(options);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    const code = error.code ? `${error.code}: ` : '';
    console.error(`error: ${code}${error.message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
