// Reading one metadata file of a project into definitions and refusals.
//
// `sink` collects: `found` (definitions, before duplicates are settled),
// `refusals` and `skipped`. Each reader returns how many definitions the
// file gave, or null for a file that turns out not to be metadata.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMetadataFile } from '../node/objectstack_metadata.js';
import { isIdentity } from './discover.js';
import { parseDataFile } from './parse.js';
import { refusal } from './errors.js';
import { definitionName } from './names.js';

const invalidName = (name) =>
  `${JSON.stringify(name)} is not a valid metadata name (lower snake case: a-z, 0-9 and _, starting with a letter)`;

function take(sink, file, type, name, data, text, exported) {
  sink.found.push({ type, name, data, text, file, export: exported });
}

/** A JSON / YAML file, or a .ts file in the exported `export default { <JSON> };` form. */
export async function readDataFile(root, item, sink) {
  try {
    const text = await readFile(join(root, item.file), 'utf8');
    const parsed = await parseDataFile(item.file, text);
    if (parsed !== null) {
      take(sink, item.file, parsed.type, parsed.name, parsed.data, JSON.stringify(parsed.data), null);
      return 1;
    }
    // A known suffix on a file name that is no identity
    // (`line-item.object.yml`): the definition names itself.
    const ext = item.file.slice(item.file.lastIndexOf('.') + 1);
    const { data } = await parseDataFile(`${item.type}/file.${item.type}.${ext}`, text);
    const name = definitionName(data, item.type);
    if (name === null || !isIdentity(item.type, name)) {
      sink.refusals.push(refusal(item.file, {
        type: item.type,
        name,
        path: '$.name',
        code: 'INVALID_NAME',
        message: name === null ? 'the file name is not a metadata name and the definition has no name of its own' : invalidName(name),
      }));
      return 0;
    }
    take(sink, item.file, item.type, name, data, JSON.stringify(data), null);
    return 1;
  } catch (error) {
    if (item.lenient) return null;
    sink.refusals.push(refusal(item.file, { type: item.type, code: 'PARSE_FAILED', message: error.message }));
    return 0;
  }
}

/**
 * A module of a known type: bundled (`built`, a promise of `bundle()`) and
 * run by `runner`; every definition it exports is checked by the core.
 */
export async function readModuleFile(item, sink, built, runner) {
  const bundled = await built;
  if (bundled.error !== undefined) {
    sink.refusals.push(refusal(item.file, { type: item.type, code: 'BUNDLE_FAILED', message: bundled.error }));
    return 0;
  }
  const result = await runner.run(item.type, bundled.code);
  if (result.failure !== undefined || result.error !== undefined) {
    sink.refusals.push(refusal(item.file, {
      type: item.type,
      code: result.failure ?? 'LOAD_FAILED',
      message: result.failure === 'TIMEOUT' ? result.error : `loading it threw: ${result.error}`,
    }));
    return 0;
  }
  for (const r of result.refusals) {
    sink.refusals.push(refusal(item.file, { export: r.export, type: item.type, name: r.name, path: r.path, code: r.code, message: r.message }));
  }
  for (const s of result.skipped) sink.skipped.push({ file: item.file, export: s.export, reason: s.reason });
  let count = 0;
  for (const d of result.definitions) {
    const fields = { export: d.export, type: item.type, name: d.name };
    if (!isIdentity(item.type, d.name)) {
      sink.refusals.push(refusal(item.file, { ...fields, path: '$.name', code: 'INVALID_NAME', message: invalidName(d.name) }));
      continue;
    }
    // The core's checks on the data (an object, depth, size).
    const path = `${item.type}/${d.name}.${item.type}.json`;
    try {
      take(sink, item.file, item.type, d.name, parseMetadataFile(path, d.text).data, d.text, d.export);
      count += 1;
    } catch (error) {
      const message = error.message.replace(`invalid file: ${path}: `, '');
      sink.refusals.push(refusal(item.file, { ...fields, path: '$', code: 'PARSE_FAILED', message }));
    }
  }
  return count;
}
