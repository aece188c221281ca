// Worker half of the project loader (../project.js): evaluates one bundled
// metadata module at a time, off the main thread, and answers with the
// definitions it exports as JSON text. The main thread owns the time limit
// and terminates this worker when a module does not finish in time.
//
// Message in:  { id, type, code }   (code: an ES module, packages imported by file URL)
// Message out: { id, definitions, refusals, skipped } or { id, error }
//              { stray } for an error thrown outside any module evaluation.

import { parentPort } from 'node:worker_threads';
import { definitionName } from './names.js';

// Deeper than any real definition (the core allows 128 levels); the bound
// only keeps the walk off the stack limit.
const MAX_WALK_DEPTH = 1000;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function member(path, key) {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function describe(value) {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const proto = Object.getPrototypeOf(value);
  const ctor = proto && proto.constructor && typeof proto.constructor.name === 'string' ? proto.constructor.name : '';
  return ctor ? `an instance of ${ctor}` : 'an object with a custom prototype';
}

function isPlainObject(value) {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// The first value under `value` that JSON cannot carry, as
// { path, message }, or null. `undefined` as an object member is absent
// (as in JSON.stringify and upstream's canonicalize); everywhere else it is
// refused, like functions, symbols, BigInt, non-finite numbers, class
// instances, symbol keys, holes and cycles.
function findNonJson(value, path, ancestors, depth) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : { path, message: `${value} is not a finite number` };
    case 'bigint':
      return { path, message: 'a BigInt (JSON has no BigInt)' };
    case 'function':
      return { path, message: `a function${value.name ? ` (${value.name})` : ''} (JSON has no functions)` };
    case 'symbol':
      return { path, message: 'a symbol (JSON has no symbols)' };
    case 'undefined':
      return { path, message: 'undefined (JSON has no undefined)' };
    default:
      break;
  }
  if (value === null) return null;
  if (depth > MAX_WALK_DEPTH) return { path, message: `nested deeper than ${MAX_WALK_DEPTH} levels` };
  if (ancestors.has(value)) return { path, message: `a cycle back to ${ancestors.get(value)}` };
  const isArray = Array.isArray(value);
  if (!isArray && !isPlainObject(value)) {
    return { path, message: `${describe(value)} (only plain objects and arrays have a JSON form)` };
  }
  if (Object.getOwnPropertySymbols(value).length > 0) {
    return { path, message: 'a symbol-keyed property (JSON has no symbol keys)' };
  }
  ancestors.set(value, path);
  try {
    if (isArray) {
      for (let i = 0; i < value.length; i++) {
        const at = `${path}[${i}]`;
        if (!(i in value)) return { path: at, message: 'a hole in an array (JSON would write null)' };
        if (value[i] === undefined) return { path: at, message: 'undefined in an array (JSON would write null)' };
        const bad = findNonJson(value[i], at, ancestors, depth + 1);
        if (bad) return bad;
      }
    } else {
      for (const key of Object.keys(value)) {
        const v = value[key];
        if (v === undefined) continue;
        const bad = findNonJson(v, member(path, key), ancestors, depth + 1);
        if (bad) return bad;
      }
    }
  } finally {
    ancestors.delete(value);
  }
  return null;
}

function kindOf(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

// Every definition a module exports: an exported object with a name, or an
// array or map (plain object) of such objects. The same object exported
// twice (a named and a default export, or a list of the named ones) counts
// once.
function collect(namespace, type) {
  const definitions = [];
  const refusals = [];
  const skipped = [];
  const taken = new Set();

  const take = (label, value) => {
    if (taken.has(value)) return;
    taken.add(value);
    const name = definitionName(value, type);
    const bad = findNonJson(value, '$', new Map(), 0);
    if (bad) {
      refusals.push({ export: label, name, path: bad.path, code: 'NOT_JSON', message: bad.message });
      return;
    }
    definitions.push({ export: label, name, text: JSON.stringify(value) });
  };

  for (const key of Object.keys(namespace)) {
    let value;
    try {
      value = namespace[key];
    } catch (error) {
      // An export still in its temporal dead zone (a cycle in the module graph).
      refusals.push({ export: key, name: null, path: null, code: 'LOAD_FAILED', message: `reading the export failed: ${messageOf(error)}` });
      continue;
    }
    if (definitionName(value, type) !== null) {
      take(key, value);
    } else if (Array.isArray(value)) {
      const named = value.filter((item) => definitionName(item, type) !== null);
      if (named.length === 0) {
        if (value.length > 0) skipped.push({ export: key, reason: `an array without ${type} definitions` });
        continue;
      }
      value.forEach((item, i) => {
        if (definitionName(item, type) !== null) take(`${key}[${i}]`, item);
        else skipped.push({ export: `${key}[${i}]`, reason: `${kindOf(item)} without a name` });
      });
    } else if (value !== null && typeof value === 'object' && isPlainObject(value)) {
      const entries = Object.entries(value);
      if (entries.length > 0 && entries.every(([, item]) => definitionName(item, type) !== null)) {
        for (const [k, item] of entries) take(member(key, k), item);
      } else {
        skipped.push({ export: key, reason: 'an object without a name (not a definition, nor a map of them)' });
      }
    } else {
      skipped.push({ export: key, reason: `${kindOf(value)}, not a definition` });
    }
  }
  return { definitions, refusals, skipped };
}

function messageOf(error) {
  if (error && typeof error === 'object') {
    // Validation errors (zod and the like) carry their issues with paths.
    if (Array.isArray(error.issues) && error.issues.length > 0) {
      return error.issues
        .map((issue) => {
          const at = Array.isArray(issue?.path) && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
          return `${at}${issue?.message ?? String(issue)}`;
        })
        .join('; ');
    }
    if (typeof error.message === 'string') {
      return `${error.name && error.name !== 'Error' ? `${error.name}: ` : ''}${error.message}`;
    }
  }
  return String(error);
}

// Errors from timers or promises a module left behind: reported, not fatal.
process.on('uncaughtException', (error) => parentPort.postMessage({ stray: messageOf(error) }));
process.on('unhandledRejection', (error) => parentPort.postMessage({ stray: messageOf(error) }));

parentPort.on('message', async ({ id, type, code }) => {
  let namespace;
  try {
    const url = `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`;
    namespace = await import(url);
  } catch (error) {
    parentPort.postMessage({ id, error: messageOf(error) });
    return;
  }
  try {
    parentPort.postMessage({ id, ...collect(namespace, type) });
  } catch (error) {
    parentPort.postMessage({ id, error: `reading the exports failed: ${messageOf(error)}` });
  }
});
