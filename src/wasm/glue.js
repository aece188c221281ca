// JavaScript half of the boundary: turning JS values into JSON text with the
// checks JSON.stringify does not make, and building errors.

const MAX_DEPTH = 127;

// Thrown by the fast check when a value needs upstream's own walk.
const NEEDS_COPY = Symbol('needs copy');

// How many size refusals have been made: a walk that made one failed for
// its size, whatever message its caller wrapped the error in.
let sizeRefusals = 0;

function tooLarge(maxBytes) {
  sizeRefusals += 1;
  return new TypeError(`larger than ${maxBytes} bytes of JSON`);
}

// Whether `value` is a String, Number, Boolean or BigInt wrapper object:
// JSON.stringify unwraps those, upstream's canonicalize walks them as
// objects. Plain objects and arrays are told apart without a probe.
function isWrapper(value) {
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === Array.prototype || proto === null) return false;
  for (const valueOf of [String.prototype.valueOf, Number.prototype.valueOf, Boolean.prototype.valueOf, BigInt.prototype.valueOf]) {
    try {
      valueOf.call(value);
      return true;
    } catch {
      // Not this kind of wrapper.
    }
  }
  return false;
}

// Where a refusal was met, outermost step first, and what it said: kept
// apart so that a long path (a cycle's) is said in a few steps.
const paths = new WeakMap();

// Steps of a path said in full at its start and its end; those between are
// counted.
const PATH_HEAD = 6;
const PATH_TAIL = 2;

// `e`, a refusal met under `step` (a key as JSON, or `[index]`), as a
// TypeError saying the path to it.
function within(step, e) {
  const inner = paths.get(e) ?? { steps: [], reason: e.message };
  const steps = [step, ...inner.steps];
  const error = new TypeError(sayPath(steps, inner.reason));
  paths.set(error, { steps, reason: inner.reason });
  return error;
}

// A refusal's message: its path's steps (the first and last few), then why.
function sayPath(steps, reason) {
  const said =
    steps.length <= PATH_HEAD + PATH_TAIL
      ? steps
      : [...steps.slice(0, PATH_HEAD), `(${steps.length - PATH_HEAD - PATH_TAIL} more)`, ...steps.slice(-PATH_TAIL)];
  return [...said, reason].join(': ');
}

function refuse(value) {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? null : `${value} is not a finite number`;
    case 'bigint':
      return 'BigInt values have no JSON form';
    case 'function':
    case 'symbol':
      // Upstream's canonicalize refuses these rather than dropping them.
      return `a ${typeof value} has no JSON form`;
    default:
      return null;
  }
}

// A lower bound of the bytes JSON text of a primitive takes.
function primitiveBytes(value) {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'boolean':
      return value ? 4 : 5;
    case 'undefined':
      return 0;
    default:
      return value === null ? 4 : 1;
  }
}

class Budget {
  constructor(maxBytes) {
    this.max = maxBytes;
    this.bytes = 0;
  }

  add(n) {
    this.bytes += n;
    if (this.bytes > this.max) throw tooLarge(this.max);
  }
}

// The fast check: for plain data (no toJSON, no wrapper objects) JSON.stringify
// prints exactly upstream's form. Throws a TypeError saying what cannot be
// stored, or NEEDS_COPY when the value needs upstream's walk. Counts a lower
// bound of the text's size as it goes, so an oversized value is refused
// after reading about its limit, not after serialising all of it.
function check(value, depth, budget) {
  const bad = refuse(value);
  if (bad !== null) throw new TypeError(bad);
  if (value === null || typeof value !== 'object') {
    budget.add(primitiveBytes(value));
    return;
  }
  if (depth >= MAX_DEPTH) {
    throw new TypeError(`nesting deeper than ${MAX_DEPTH} levels of arrays and objects (or a cycle)`);
  }
  if (typeof value.toJSON === 'function' || isWrapper(value)) throw NEEDS_COPY;
  if (Array.isArray(value)) {
    const n = value.length;
    budget.add(n + 1);
    for (let i = 0; i < n; i++) {
      const item = value[i];
      try {
        check(item, depth + 1, budget);
      } catch (e) {
        throw e instanceof TypeError && e !== NEEDS_COPY ? within(`[${i}]`, e) : e;
      }
      // undefined (or a hole) prints as null.
      if (item === undefined) budget.add(4);
    }
    return;
  }
  const keys = Object.keys(value);
  budget.add(keys.length + 1);
  for (const key of keys) {
    const item = value[key];
    if (item === undefined) continue;
    budget.add(key.length + 3);
    try {
      check(item, depth + 1, budget);
    } catch (e) {
      throw e instanceof TypeError && e !== NEEDS_COPY ? within(JSON.stringify(key), e) : e;
    }
  }
}

// `check` without its messages, for the common case where nothing is wrong:
// true when `value` is plain data within the budget, false when `check`
// must run to say what is wrong; throws NEEDS_COPY as `check` does. No
// try/catch per member and no call per primitive: this walk is a large part
// of what a save costs (BENCHMARKS.md).
function plain(value, depth, budget) {
  if (depth >= MAX_DEPTH) return false;
  // Looked up on every object, as JSON.stringify looks: a toJSON may be a
  // member that is not enumerable, or come from a proxy's trap.
  if (typeof value.toJSON === 'function') throw NEEDS_COPY;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null && isWrapper(value)) throw NEEDS_COPY;
  if (Array.isArray(value)) {
    const n = value.length;
    if ((budget.bytes += n + 1) > budget.max) return false;
    for (let i = 0; i < n; i++) {
      if (!plainItem(value[i], depth, budget, 4)) return false;
    }
    return true;
  }
  if (proto === Object.prototype || proto === null) {
    // for-in, whose `value[key]` V8 reads straight from the object's
    // layout; elsewhere that read is a slow (megamorphic) lookup on objects
    // of many shapes. Own keys only: `toJsonText` looks once that
    // Object.prototype has no enumerable keys.
    if ((budget.bytes += 1) > budget.max) return false;
    for (const key in value) {
      const item = value[key];
      if ((budget.bytes += 1) > budget.max) return false;
      if (item === undefined) continue;
      if ((budget.bytes += key.length + 3) > budget.max) return false;
      if (!plainItem(item, depth, budget, 0)) return false;
    }
    return true;
  }
  const keys = Object.keys(value);
  if ((budget.bytes += keys.length + 1) > budget.max) return false;
  for (let j = 0; j < keys.length; j++) {
    const key = keys[j];
    const item = value[key];
    if (item === undefined) continue;
    if ((budget.bytes += key.length + 3) > budget.max) return false;
    if (!plainItem(item, depth, budget, 0)) return false;
  }
  return true;
}

// Whether Object.prototype has no enumerable keys, which the quiet walk's
// for-in would take for own members (a toJSON there it meets on every
// object, as it looks up toJSON).
function noInheritedKeys() {
  // eslint-disable-next-line no-unused-vars
  for (const key in Object.prototype) return false;
  return true;
}

// One member of `plain`'s walk; `undefinedBytes`: what undefined prints as
// (4 in an array: null; 0 elsewhere: dropped).
function plainItem(item, depth, budget, undefinedBytes) {
  switch (typeof item) {
    case 'string':
      return (budget.bytes += item.length + 2) <= budget.max;
    case 'number':
      return Number.isFinite(item) && (budget.bytes += 1) <= budget.max;
    case 'boolean':
      return (budget.bytes += 5) <= budget.max;
    case 'object':
      if (item === null) return (budget.bytes += 4) <= budget.max;
      return plain(item, depth + 1, budget);
    case 'undefined':
      return (budget.bytes += undefinedBytes) <= budget.max;
    default:
      return false;
  }
}

// What each object `copy` made was made from (after its toJSON): a batch
// item's options are judged by what the walk read, not by its copy.
const copiedFrom = new WeakMap();

// Upstream's canonicalize walk, without its sorting (the core sorts): each
// object's toJSON called once with its key, wrapper objects walked as
// objects (new String('ab') is {"0":"a","1":"b"}), undefined members dropped,
// what JSON cannot carry refused. An own __proto__ key stays data.
function copy(raw, key, depth, budget) {
  let value = raw;
  if (value !== null && typeof value === 'object') {
    const toJson = value.toJSON;
    if (typeof toJson === 'function') value = toJson.call(value, key);
  }
  const bad = refuse(value);
  if (bad !== null) throw new TypeError(bad);
  if (value === null || typeof value !== 'object') {
    budget.add(primitiveBytes(value));
    return value;
  }
  if (depth >= MAX_DEPTH) {
    throw new TypeError(`nesting deeper than ${MAX_DEPTH} levels of arrays and objects (or a cycle)`);
  }
  if (Array.isArray(value)) {
    const n = value.length;
    budget.add(n + 1);
    const out = new Array(n);
    for (let i = 0; i < n; i++) {
      // A hole stays a hole (printed null), as Array.prototype.map keeps it.
      if (!(i in value)) {
        budget.add(4);
        continue;
      }
      try {
        out[i] = copy(value[i], String(i), depth + 1, budget);
      } catch (e) {
        throw e instanceof TypeError ? within(`[${i}]`, e) : e;
      }
      if (out[i] === undefined) budget.add(4);
    }
    return out;
  }
  const out = {};
  copiedFrom.set(out, value);
  const keys = Object.keys(value);
  budget.add(keys.length + 1);
  for (const k of keys) {
    let v;
    try {
      v = copy(value[k], k, depth + 1, budget);
    } catch (e) {
      throw e instanceof TypeError ? within(JSON.stringify(k), e) : e;
    }
    if (v === undefined) continue;
    budget.add(k.length + 3);
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

// JSON text of `value` as upstream's canonicalize sees it (before sorting),
// at most `maxBytes` long, or throws a TypeError saying what cannot be
// stored. Plain data takes the fast road: a bounded check, then
// JSON.stringify itself. `wrappers`: how many outer levels hold the data
// rather than being it (they do not count against the nesting limit).
export function toJsonText(value, maxBytes, wrappers = 0) {
  return jsonText(walked(value, maxBytes, wrappers), maxBytes);
}

// `value` checked as `toJsonText` checks it: itself when it is plain data,
// else upstream's walk's copy of it.
function walked(value, maxBytes, wrappers) {
  try {
    // The quiet walk first; the one with messages only to say what is wrong.
    const quiet = noInheritedKeys() && plainItem(value, -1 - wrappers, { bytes: 0, max: maxBytes }, 0);
    if (!quiet) check(value, -wrappers, new Budget(maxBytes));
    return value;
  } catch (e) {
    if (e !== NEEDS_COPY) throw e;
    return copy(value, '', -wrappers, new Budget(maxBytes));
  }
}

// JSON.stringify of walked data, at most `maxBytes` long.
function jsonText(data, maxBytes) {
  const text = JSON.stringify(data);
  if (typeof text !== 'string') {
    throw new TypeError(`${data === undefined ? 'undefined' : typeof data} has no JSON form`);
  }
  // UTF-16 units never outnumber UTF-8 bytes; the core counts the bytes.
  if (text.length > maxBytes) throw tooLarge(maxBytes);
  return text;
}

// saveMany's items (`[{ type, name, data, options? }]`) as `toJsonText`
// sees the list, each definition as a JSON text of its own:
// `{ items, data, refused }`, where `items` is the JSON text of the list
// with each item's `data` written as 0 (left out where the item has none,
// so the core says so), `data[i]` the text of item i's definition, and
// `refused`, `[index, message]` of the first item whose options are an
// object the core would read as other options (see hiddenContents), or
// undefined. Printed apart, most definitions stay one-byte strings (one
// character beyond Latin-1 makes a whole list two bytes a character), and
// the core reads each from its own text instead of finding it in the
// list's. Or throws
// `{ itemIndex, type, name, message, field? }`, made here whatever was
// thrown: `itemIndex` names the first item that cannot be stored, or is -1
// when the list as a whole cannot (too large, not a list) or no item is
// found to blame; `field`, the item's member at fault where one is.
export function itemsToTexts(items, maxBytes) {
  return blamed(items, maxBytes, () => {
    const list = walked(items, maxBytes, 2);
    if (!Array.isArray(list)) return { items: jsonText(list, maxBytes), data: [] };
    const n = list.length;
    let refused;
    const heads = new Array(n);
    const data = new Array(n);
    // The list's text as one: the definitions, and the heads less their
    // placeholders.
    let size = 0;
    for (let i = 0; i < n; i++) {
      const item = list[i];
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        heads[i] = item;
        continue;
      }
      // Its own enumerable members, each read once, in order, as
      // JSON.stringify reads them (an inherited `data` is not read).
      const head = { ...item };
      // The walk took options for data: a Map passed as `{}`. Judged by
      // what the walk read (where the list was copied, its copy's source);
      // said to the core, which refuses it in the items' order with what
      // it refuses itself (lists and other values that are not objects).
      if (refused === undefined) {
        const options = copiedFrom.get(head.options) ?? head.options;
        const bad = options !== null && typeof options === 'object' && !Array.isArray(options) ? hiddenContents(options) : null;
        if (bad !== null) refused = [i, bad];
      }
      if (Object.hasOwn(head, 'data')) {
        if (head.data === undefined) {
          delete head.data;
        } else {
          data[i] = JSON.stringify(head.data);
          size += data[i].length - 1;
          head.data = 0;
        }
      }
      heads[i] = head;
    }
    const text = JSON.stringify(heads);
    if (size + text.length > maxBytes) throw tooLarge(maxBytes);
    return { items: text, data, refused };
  });
}

// What `read()` answers, or throws as `itemsToTexts` says.
function blamed(items, maxBytes, read) {
  const refusals = sizeRefusals;
  try {
    return read();
  } catch (e) {
    const failure = { itemIndex: -1, type: '', name: '', message: thrownMessage(e) };
    // Refused for its size, the list is too large as a whole (the walk
    // checks the items in order): none is to blame.
    if (sizeRefusals === refusals) {
      try {
        blameItem(items, maxBytes, failure);
      } catch {
        // Reading the list threw (a proxy, a getter): no item is named.
      }
    }
    throw failure;
  }
}

// Walks each item again, on its own under its index (an undefined item is
// left out there, as the list prints it null: not refused), until one
// fails or its options are refused, and names
// it in `failure`. Its getters run again, and its `type` and `name` are
// read once more. The items walked share the list's room, so the search
// costs at most about one walk of the list: when the room runs out first,
// no item is named.
function blameItem(items, maxBytes, failure) {
  if (!Array.isArray(items)) return;
  const n = items.length;
  let room = maxBytes;
  for (let i = 0; i < n; i++) {
    const item = items[i];
    const refusals = sizeRefusals;
    const name = (member) => {
      const value = tryGet(item, member);
      return typeof value === 'string' ? value : '';
    };
    // Under its own index, so that a toJSON of the item is asked with the
    // key the list gives it.
    const own = { [i]: item };
    let walkedOwn;
    let text;
    try {
      walkedOwn = walked(own, room, 2);
      text = jsonText(walkedOwn, room);
    } catch (itemError) {
      if (sizeRefusals !== refusals) return;
      // The path's first step is the item's index.
      const path = paths.get(itemError);
      const message = path ? sayPath(path.steps.slice(1), path.reason) : thrownMessage(itemError);
      Object.assign(failure, { itemIndex: i, type: name('type'), name: name('name'), message });
      return;
    }
    // Its options as the walk read them (see itemsToTexts), all of them:
    // the core, which judges what is not an object, does not see a list
    // the walk refused.
    const head = walkedOwn[i];
    let bad = null;
    try {
      const options = head !== null && typeof head === 'object' && !Array.isArray(head) ? head.options : undefined;
      const read = copiedFrom.get(options) ?? options;
      bad = read === undefined || read === null ? null : notOptions(read);
    } catch (e) {
      bad = thrownMessage(e);
    }
    if (bad !== null) {
      Object.assign(failure, { itemIndex: i, type: name('type'), name: name('name'), message: bad, field: 'options' });
      return;
    }
    room -= text.length;
  }
}

// A deep copy of plain JSON data (objects, arrays and primitives, as
// JSON.parse makes them): a load's fresh object at about half the cost of
// parsing the text again. A `__proto__` key is an own property in parsed
// JSON; it is defined, not assigned (assigning would set the prototype).
export function copyPlain(value) {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const n = value.length;
    const out = [];
    for (let i = 0; i < n; i++) out.push(copyPlain(value[i]));
    return out;
  }
  const out = {};
  for (const key of Object.keys(value)) {
    if (key === '__proto__') {
      Object.defineProperty(out, key, { value: copyPlain(value[key]), writable: true, enumerable: true, configurable: true });
    } else {
      out[key] = copyPlain(value[key]);
    }
  }
  return out;
}

// A record's JSON text of its definition, under a symbol and not
// enumerable: no key list, spread, JSON.stringify or structuredClone carries
// it, and it is read through proxies as any member is (a private field is
// not: a record in a proxy, as reactive frameworks hold state, would lose
// its data).
const DATA_TEXT = Symbol('definition text');
const utf8 = new TextDecoder();

// The record holding a text: `object` itself or one on its prototype chain
// (when the getter is reached through an object inheriting it). The walk
// is bounded: a proxy can answer a prototype chain without end.
function textHolder(object) {
  let o = object;
  for (let step = 0; step < 1000; step++) {
    if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return undefined;
    if (Object.prototype.hasOwnProperty.call(o, DATA_TEXT)) return o;
    o = Object.getPrototypeOf(o);
  }
  return undefined;
}

const dataValue = (value) => ({ value, writable: true, enumerable: true, configurable: true });

// One getter and setter pair for every record. A pair made per record (two
// closures over the text) gave each record a hidden class of its own, kept
// until a full collection, and with it the text: a fifth of a no-op save
// went to the garbage collector copying those texts (BENCHMARKS.md).
// Parsed definitions of records that cannot take them as a member (frozen
// or sealed ones, a proxy that refuses): one for each, so that every read
// answers the same object, as a member would.
const keptData = new WeakMap();

const lazyData = {
  configurable: true,
  enumerable: true,
  get() {
    const record = textHolder(this);
    if (record === undefined) return undefined;
    if (keptData.has(record)) return keptData.get(record);
    const text = record[DATA_TEXT];
    if (text === undefined) return undefined;
    const data = JSON.parse(typeof text === 'string' ? text : utf8.decode(text));
    // From now on an ordinary member, where the record takes one, and the
    // text goes with it once `data` is the parsed value (a proxy may say it
    // defined it and not have): overwritten, not deleted, which would turn
    // the record into a slower dictionary of properties.
    try {
      if (Reflect.defineProperty(record, 'data', dataValue(data))
        && Object.getOwnPropertyDescriptor(record, 'data')?.value === data) {
        Reflect.defineProperty(record, DATA_TEXT, { value: undefined });
        return data;
      }
    } catch {
      // Kept beside the record instead.
    }
    keptData.set(record, data);
    return data;
  },
  set(value) {
    // As assigning an ordinary member: it lands on the object assigned to
    // (an object inheriting from the record gets its own).
    if (Reflect.defineProperty(this, 'data', dataValue(value))
      && Object.getOwnPropertyDescriptor(this, 'data')?.value === value) {
      if (Object.prototype.hasOwnProperty.call(this, DATA_TEXT)) Reflect.defineProperty(this, DATA_TEXT, { value: undefined });
      return;
    }
    // A frozen record refuses it, as a frozen object does; a sealed one (or
    // a proxy that refuses the member) keeps it beside it.
    if (Object.isFrozen(this)) throw new TypeError("Cannot assign to read only property 'data' of a frozen record");
    keptData.set(this, value);
  },
};

// Gives `target.record` a `data` parsed from `text` (a string, or its
// UTF-8 bytes) when it is first read:
// a save answers with the record it wrote, and most callers never look at
// the definition they have just given. Reading it (or spreading,
// serialising or cloning the record) parses it once; assigning replaces it.
export function withLazyData(target, text) {
  const record = target.record;
  Object.defineProperty(record, DATA_TEXT, { value: text, configurable: true });
  Object.defineProperty(record, 'data', lazyData);
}

// withLazyData for each of `targets` from index `from` on, its text the
// next of `texts` (UTF-8 bytes, a view of the module's memory), each ending
// where `ends` says. Each record gets a copy of its own bytes: a view of a
// shared copy would keep all of them alive for as long as any record.
export function withLazyDataFrom(targets, from, texts, ends) {
  if (from + ends.length > targets.length) throw new Error('more texts than records');
  let start = 0;
  for (let k = 0; k < ends.length; k++) {
    withLazyData(targets[from + k], texts.slice(start, ends[k]));
    start = ends[k];
  }
}

const encoder = new TextEncoder();

let lastRead = 0;

// Writes `text`, from its UTF-16 unit `from` on, as UTF-8 into `into` (a
// view of the module's memory) as far as whole characters fit; answers how
// many bytes it wrote. encodedUnits() then tells where it stopped.
export function encodeInto(text, from, into) {
  const { read, written } = encoder.encodeInto(from === 0 ? text : text.substring(from), into);
  lastRead = from + read;
  return written;
}

// The UTF-16 unit of its text the last encodeInto stopped before.
export function encodedUnits() {
  return lastRead;
}

// Whether `probe(value)` answers rather than throws: a brand check, which
// neither a prototype nor a Symbol.toStringTag can fake.
function branded(value, probe) {
  try {
    probe(value);
    return true;
  } catch {
    return false;
  }
}

// Objects whose contents are not their members, by their brand checks.
const NOT_MEMBERS = [
  ['a Map', (v) => Map.prototype.has.call(v)],
  ['a Set', (v) => Set.prototype.has.call(v)],
  ['a WeakMap', (v) => WeakMap.prototype.has.call(v)],
  ['a WeakSet', (v) => WeakSet.prototype.has.call(v)],
];

// Why `options` cannot be options, or null. Anything but an object, a
// list or a Date (what JSON makes of them is not an object), and objects
// whose contents are not their members (see hiddenContents).
function notOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return 'must be an object';
  if (branded(options, (v) => Date.prototype.getTime.call(v))) return 'must be an object';
  return hiddenContents(options);
}

// Why the object `options` (not a list) would be read as other options
// than it holds, or null: a Map, a Set or a boxed value, whose contents
// are not its members (JSON makes it `{}`, or a string's characters), or
// any object of another kind than a plain one with no members of its own
// (a Promise not awaited, a RegExp, a Proxy of a Map: JSON makes it `{}`).
// Plain objects (of any realm), objects without a prototype, and class
// instances with members are options, whatever their Symbol.toStringTag
// says. Throws what asking `options` throws (a revoked Proxy).
function hiddenContents(options) {
  // A plain object of any realm: its prototype is a realm's root.
  const proto = Object.getPrototypeOf(options);
  if (proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null) return null;
  if (isWrapper(options)) return 'must be a plain object, not a boxed value';
  for (const [name, probe] of NOT_MEMBERS) {
    if (branded(options, probe)) return `must be a plain object, not ${name}`;
  }
  if (Object.keys(options).length === 0) return 'must be a plain object, not an object of another kind without members';
  return null;
}

// A call's options as JSON text (see toJsonText), refusing what notOptions
// refuses.
export function optionsText(options, maxBytes) {
  // Judged as the walk read them, which is what is written: JSON's reading
  // (a toJSON asked once, with the key ''); where the walk copied, its
  // copy's source. Anything else but an object the core refuses by its
  // text.
  const value = walked(options, maxBytes, 0);
  const read = value === options ? options : (copiedFrom.get(value) ?? value);
  const bad = read !== null && typeof read === 'object' ? notOptions(read) : null;
  if (bad !== null) throw new TypeError(bad);
  // A toJSON answering nothing leaves them out, as a batch item's.
  return value === undefined ? 'null' : jsonText(value, maxBytes);
}

// Splits create()'s options into the store (a name or a host object, which
// may hold functions) and the rest as JSON text. Throws a TypeError for
// options that cannot be read (a throwing getter, a revoked proxy).
export function splitCreateOptions(options, maxBytes) {
  if (options === undefined || options === null) return { store: undefined, rest: '{}' };
  const bad = notOptions(options);
  if (bad !== null) throw new TypeError(bad);
  const rest = {};
  let store;
  for (const key of Object.keys(options)) {
    const value = options[key];
    if (key === 'store') store = value;
    else rest[key] = value;
  }
  return { store, rest: toJsonText(rest, maxBytes) };
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

function isPromiseLike(value) {
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
    code: typeof code === 'string' ? code : '',
    key: typeof key === 'string' ? key : null,
  };
}

// subscribe's options without their `onError` member (a function, which
// the options' JSON cannot carry): `{ options, onError }`. Throws a
// TypeError for an `onError` that is not a function, and whatever reading
// the options throws (a getter, a proxy's trap), for the caller to refuse.
export function splitOnError(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    return { options, onError: undefined };
  }
  const onError = options.onError;
  if (onError === undefined) return { options, onError };
  if (typeof onError !== 'function') throw new TypeError('onError must be a function');
  const rest = { ...options };
  delete rest.onError;
  return { options: rest, onError };
}

// Most bytes of JSON text one host answer may take (MAX_ARG_BYTES in
// boundary.rs).
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

// A host's answer as JSON text ('text'), or null when it has none. What a
// store answers as text is a record or history entry (or a row holding
// one): its own level does not count against its definition's nesting.
function asText(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') {
    if (value.length > MAX_ANSWER_BYTES) throw tooLarge(MAX_ANSWER_BYTES);
    return value;
  }
  return toJsonText(value, MAX_ANSWER_BYTES, 1);
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
  return JSON.parse(toJsonText(value, MAX_ANSWER_BYTES));
}

// readCurrent's answer, [{ record, lastVersion }]: each record as JSON text
// (a string passes as it is, without a trip through JSON), the rest as
// plain data; anything else as asData reads it, for the core to refuse.
function asCurrent(value) {
  if (!Array.isArray(value)) return asData(value);
  return Array.from(value, (item) =>
    item !== null && typeof item === 'object'
      ? { record: asText(item.record), lastVersion: asData(item.lastVersion) }
      : asData(item));
}

const SHAPES = {
  raw: (v) => v,
  void: () => undefined,
  text: (v) => asText(v),
  texts: asTexts,
  count: asCount,
  data: (v) => asData(v),
  current: asCurrent,
};

async function invoke(host, name, args, shape) {
  const f = host[name];
  if (typeof f !== 'function') throw new TypeError(`${name} is not a function`);
  return SHAPES[shape](await Reflect.apply(f, host, args));
}

// Calls `host[name](...args)`: a Promise that resolves with the answer in
// the asked shape, or rejects with a plain { message, code, key }
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

