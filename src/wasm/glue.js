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

// The message of anything a host callback threw or rejected with.
export function describeThrown(value) {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return String(value);
  } catch {
    return 'unprintable value';
  }
}

// The message alone of a thrown Error (or the value printed).
export function thrownMessage(value) {
  return value instanceof Error ? value.message : describeThrown(value);
}

// The name of a thrown DOMException or Error ('QuotaExceededError'...).
export function thrownName(value) {
  return value !== null && typeof value === 'object' && typeof value.name === 'string'
    ? value.name
    : '';
}

export function isPromiseLike(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') &&
    typeof value.then === 'function';
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
