// JavaScript half of the boundary: turning JS values into JSON text with the
// checks JSON.stringify does not make, and building errors.

const MAX_DEPTH = 128;

// Returns a description of the first value JSON cannot carry faithfully
// (non-finite number, BigInt, nesting beyond MAX_DEPTH or a cycle), or null.
function findUnrepresentable(value, depth) {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? null : `${value} is not a finite number`;
    case 'bigint':
      return 'BigInt values have no JSON form';
    case 'function':
    case 'symbol':
      // Upstream's canonicalize refuses these rather than dropping them.
      return `a ${typeof value} has no JSON form`;
    case 'object': {
      if (value === null) return null;
      if (depth >= MAX_DEPTH) {
        return `nesting deeper than ${MAX_DEPTH} levels of arrays and objects (or a cycle)`;
      }
      if (typeof value.toJSON === 'function') {
        return findUnrepresentable(value.toJSON(), depth);
      }
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const bad = findUnrepresentable(value[i], depth + 1);
          if (bad !== null) return `[${i}]: ${bad}`;
        }
        return null;
      }
      for (const key of Object.keys(value)) {
        const bad = findUnrepresentable(value[key], depth + 1);
        if (bad !== null) return `${JSON.stringify(key)}: ${bad}`;
      }
      return null;
    }
    default:
      return null;
  }
}

// JSON text of `value`, or throws a TypeError saying what cannot be stored.
// Property order, toJSON, and the dropping of undefined and functions are
// JSON.stringify's own.
export function toJsonText(value) {
  const bad = findUnrepresentable(value, 0);
  if (bad !== null) throw new TypeError(bad);
  const text = JSON.stringify(value);
  if (typeof text !== 'string') {
    throw new TypeError(`${value === undefined ? 'undefined' : typeof value} has no JSON form`);
  }
  return text;
}

// Splits create()'s options into the store (a name or a host object, which
// may hold functions) and the rest as JSON text. Throws a TypeError for
// options that cannot be read (a throwing getter, a revoked proxy).
export function splitCreateOptions(options) {
  if (options === undefined || options === null) return { store: undefined, rest: '{}' };
  if (typeof options !== 'object') throw new TypeError('must be an object');
  const rest = {};
  let store;
  for (const key of Object.keys(options)) {
    const value = options[key];
    if (key === 'store') store = value;
    else rest[key] = value;
  }
  return { store, rest: toJsonText(rest) };
}

// An Error named MetadataError carrying a stable code and details.
export function metadataError(code, message, details) {
  const error = new Error(message);
  error.name = 'MetadataError';
  error.code = code;
  if (details) {
    for (const key of Object.keys(details)) {
      if (details[key] !== undefined && details[key] !== null) error[key] = details[key];
    }
  }
  return error;
}

// Reads `value[key]` where anything may throw (getters, revoked proxies).
function tryGet(value, key) {
  try {
    return value === null || value === undefined ? undefined : value[key];
  } catch {
    return undefined;
  }
}

function isError(value) {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

// The message of anything thrown or rejected with; never throws.
export function describeThrown(value) {
  try {
    if (isError(value)) {
      const name = tryGet(value, 'name');
      const message = tryGet(value, 'message');
      return `${typeof name === 'string' ? name : 'Error'}: ${typeof message === 'string' ? message : 'unprintable message'}`;
    }
    return String(value);
  } catch {
    return 'unprintable value';
  }
}

// The message alone of a thrown Error (or the value printed); never throws.
export function thrownMessage(value) {
  const message = isError(value) ? tryGet(value, 'message') : undefined;
  return typeof message === 'string' ? message : describeThrown(value);
}

// The name of a thrown DOMException or Error ('QuotaExceededError'...), or
// ''; never throws.
export function thrownName(value) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return '';
  const name = tryGet(value, 'name');
  return typeof name === 'string' ? name : '';
}

export function isPromiseLike(value) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  return typeof tryGet(value, 'then') === 'function';
}

// What a host call that failed rejects with: a plain object the core reads
// safely, whatever was thrown.
function hostFailure(e) {
  const code = tryGet(e, 'code');
  const key = tryGet(e, 'key');
  return {
    message: describeThrown(e),
    name: thrownName(e),
    code: typeof code === 'string' ? code : '',
    key: typeof key === 'string' ? key : null,
  };
}

// A host's answer as JSON text ('text'), or null when it has none.
function asText(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  return toJsonText(value);
}

function asTexts(value) {
  if (!Array.isArray(value)) throw new TypeError('did not return an array');
  return Array.from(value, (item, i) => {
    const text = asText(item);
    if (text === null) throw new TypeError(`item ${i} is null`);
    return text;
  });
}

function asCount(value) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`did not return a non-negative integer (${describeThrown(value)})`);
  }
  return value;
}

// Plain data from whatever a host answered (through JSON).
function asData(value) {
  if (value === null || value === undefined) return null;
  return JSON.parse(toJsonText(value));
}

const SHAPES = {
  raw: (v) => v,
  void: () => undefined,
  text: (v) => asText(v),
  texts: asTexts,
  count: asCount,
  data: asData,
  current: (v) => asTexts(v).map((t) => JSON.parse(t)),
};

async function invoke(host, name, args, shape) {
  const f = host[name];
  if (typeof f !== 'function') throw new TypeError(`${name} is not a function`);
  return SHAPES[shape](await Reflect.apply(f, host, args));
}

// Calls `host[name](...args)`: a Promise that resolves with the answer in
// the asked shape, or rejects with a plain { message, name, code, key }
// object. Throwing getters, revoked proxies, hostile thenables and errors
// whose properties throw all end up as that rejection, never as an
// exception through the module.
export function hostCall(host, name, args, shape) {
  return invoke(host, name, args, shape).catch((e) => {
    throw hostFailure(e);
  });
}

// Calls `f()` for its effect, ignoring whatever it throws or rejects with.
export function callQuietly(f) {
  try {
    const out = f();
    if (isPromiseLike(out)) Promise.resolve(out).catch(() => {});
  } catch {
    // Nothing to report to: the caller is tearing down.
  }
}

// Whether `host[name]` is a function; never throws.
export function hostHas(host, name) {
  return typeof tryGet(host, name) === 'function';
}

// `host[name]` if it is a string, else null; never throws.
export function hostString(host, name) {
  const value = tryGet(host, name);
  return typeof value === 'string' ? value : null;
}

// IndexedDB store: issues a batch's writes on a live readwrite transaction.
// `ops` is JSON text of [0, row] (put into records), [1, row] (put into
// history) and [2, key] (delete from records). A put or delete that throws
// (the transaction is then aborted by the caller) propagates.
export function issueWrites(records, history, ops) {
  for (const [op, value] of JSON.parse(ops)) {
    if (op === 2) records.delete(value);
    else (op === 0 ? records : history).put(value);
  }
}
