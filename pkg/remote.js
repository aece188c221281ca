// A local store as the cache of a metadata server:
//
//   const svc = await MetadataService.create({ store: 'auto', remote: { url, token } });
//
// On start it replicates the server by its manifest (fetching only what is
// missing or at another version), then follows the server's change stream
// and resumes it after a dropped connection from where it left off. Reads
// are local and keep working offline. Writes go to the server, saves and
// deletes pinned to the cached record (If-Match with its checksum), and
// what the server answers lands locally; a conflict rejects with CONFLICT
// and leaves the cache at the server's version.

import { metadataError } from './errors.js';

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

// Reads one Server-Sent Events stream: calls `onEvent({ id, event, data })`
// for each event, resolves when the stream ends.
async function readEvents(body, onEvent, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = { id: null, event: 'message', data: [] };
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (event.data.length > 0) await onEvent({ id: event.id, event: event.event, data: event.data.join('\n') });
          event = { id: event.id, event: 'message', data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') event.data.push(value);
        else if (field === 'id') event.id = value;
        else if (field === 'event') event.event = value;
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * The remote side: HTTP calls to the server's ADR routes with the token,
 * errors as MetadataErrors (network failures: STORAGE_UNAVAILABLE).
 */
function serverOf({ url, token, fetch: fetchImpl = globalThis.fetch.bind(globalThis) }) {
  const base = `${String(url).replace(/\/+$/, '')}/api/v1/metadata`;
  const auth = token ? { authorization: `Bearer ${token}` } : {};
  const path = (type, name, tail = '') => `${base}/${encodeURIComponent(type)}/${encodeURIComponent(name)}${tail}`;

  async function call(method, target, { body, headers = {}, ok = [] } = {}) {
    let response;
    try {
      response = await fetchImpl(target, {
        method,
        headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body,
      });
    } catch (cause) {
      throw metadataError('STORAGE_UNAVAILABLE', `the metadata server is unreachable: ${cause?.message ?? cause}`);
    }
    if (response.ok || ok.includes(response.status)) {
      return { status: response.status, body: response.status === 304 ? null : await response.json() };
    }
    let error = {};
    try {
      error = await response.json();
    } catch {
      // Not JSON: the status says enough.
    }
    const code = typeof error.code === 'string' ? error.code : response.status === 412 ? 'CONFLICT' : 'STORAGE_ERROR';
    const details = { status: response.status };
    for (const field of ['key', 'expected', 'actual', 'actualVersion', 'field', 'operation', 'type', 'permission', 'index', 'detail']) {
      if (error[field] !== undefined) details[field] = error[field];
    }
    throw metadataError(code === 'PRECONDITION_FAILED' ? 'CONFLICT' : code, error.error ?? `${method} ${target}: ${response.status}`, details);
  }

  return {
    base,
    manifest: () => call('GET', `${base}/_manifest`).then((r) => r.body),
    fetchRecords: (keys) => call('POST', `${base}/_fetch`, { body: JSON.stringify(keys) }).then((r) => r.body),
    put: (type, name, text, headers, query = '') => call('PUT', path(type, name, query), { body: text, headers }).then((r) => r.body),
    batch: (text) => call('POST', `${base}/_batch`, { body: text }).then((r) => r.body),
    remove: (type, name, headers, query = '') => call('DELETE', path(type, name, query), { headers }).then((r) => r.body),
    post: (type, name, action, body, query = '') => call('POST', path(type, name, `/${action}${query}`), { body: JSON.stringify(body ?? {}) }).then((r) => r.body),
    history: (type, name) => call('GET', path(type, name, '/history')).then((r) => r.body),
    identity: () => call('GET', `${base}/_identity`).then((r) => r.body),
    stream: (position, signal) => fetchImpl(`${base}/_changes`, {
      headers: { ...auth, accept: 'text/event-stream', ...(position ? { 'last-event-id': position } : {}) },
      signal,
    }),
  };
}

const etagOf = (checksum) => `"${checksum}"`;

const SAVE_OPTIONS = ['expectedVersion', 'expectedChecksum', 'tags', 'source', 'owner'];
const CHANGE_OPTIONS = ['expectedVersion', 'expectedChecksum'];

/** What a thrown value says, whatever it is (a Symbol, a revoked Proxy). */
function describe(thrown) {
  try {
    const message = thrown?.message;
    return typeof message === 'string' ? message : String(thrown);
  } catch {
    return 'a value that cannot be read was thrown';
  }
}

// Objects whose contents are not their members, told by brand checks
// (which neither a prototype nor a Symbol.toStringTag fakes), as the local
// service tells them: their contents would be ignored.
const NOT_MEMBERS = [
  ['must be an object', (v) => Date.prototype.getTime.call(v)],
  ['must be a plain object, not a Map', (v) => Map.prototype.has.call(v)],
  ['must be a plain object, not a Set', (v) => Set.prototype.has.call(v)],
  ['must be a plain object, not a WeakMap', (v) => WeakMap.prototype.has.call(v)],
  ['must be a plain object, not a WeakSet', (v) => WeakSet.prototype.has.call(v)],
  ['must be a plain object, not a boxed value', (v) => Number.prototype.valueOf.call(v)],
  ['must be a plain object, not a boxed value', (v) => String.prototype.valueOf.call(v)],
  ['must be a plain object, not a boxed value', (v) => Boolean.prototype.valueOf.call(v)],
  ['must be a plain object, not a boxed value', (v) => BigInt.prototype.valueOf.call(v)],
];

/**
 * Why the object `options` is not an object of options, or null: one of
 * NOT_MEMBERS, or an object of another kind than a plain one with no
 * members of its own (a Promise not awaited, a Proxy of a Map), which
 * would be read as no options. Class instances with members are options.
 */
function notPlain(options) {
  // A plain object of any realm: its prototype is a realm's root.
  const proto = Object.getPrototypeOf(options);
  if (proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null) return null;
  for (const [message, probe] of NOT_MEMBERS) {
    try {
      probe(options);
      return message;
    } catch {
      // Not of this kind.
    }
  }
  return Object.keys(options).length === 0 ? 'must be a plain object, not an object of another kind without members' : null;
}

/**
 * A write's options as the local service reads them: absent is none; a
 * value that is not an object (a list, a number) or a member the call
 * does not take is VALIDATION, not ignored.
 */
function checked(given, allowed) {
  if (given === undefined || given === null) return {};
  const refusals = new WeakSet();
  const refuse = (message) => {
    const error = metadataError('VALIDATION', `invalid options: ${message}`, { field: 'options' });
    refusals.add(error);
    return error;
  };
  let copy;
  try {
    // What JSON makes of them, as the local service reads them.
    const options = typeof given === 'object' && typeof given.toJSON === 'function' ? given.toJSON('') : given;
    if (options === null || typeof options !== 'object' || Array.isArray(options)) throw refuse('must be an object');
    const bad = notPlain(options);
    if (bad !== null) throw refuse(bad);
    copy = { ...options };
  } catch (e) {
    // A getter or a revoked Proxy that throws is refused the same way.
    throw refusals.has(e) ? e : refuse(describe(e));
  }
  for (const key of Object.keys(copy)) {
    if (!allowed.includes(key)) throw refuse(`unknown field \`${key}\`, expected one of ${allowed.map((k) => `\`${k}\``).join(', ')}`);
    // null is absent, as the local service reads it.
    if (copy[key] === null || copy[key] === undefined) {
      delete copy[key];
    } else if (!MEMBER_OK[key](copy[key])) {
      throw refuse(`${key} must be ${MEMBER_IS[key]}`);
    }
  }
  return copy;
}

// What each member may hold (the server and the local service judge the
// rest, such as which sources exist).
const MEMBER_OK = {
  expectedVersion: (v) => Number.isSafeInteger(v) && v >= 0,
  // It travels as a query parameter, judged by the server's core as the
  // local service's judges it; a lone surrogate, which the local service
  // refuses, would travel as U+FFFD.
  expectedChecksum: (v) => typeof v === 'string' && v.isWellFormed(),
  // They travel as one query parameter, with commas between (where an
  // empty one is no tag).
  tags: (v) => Array.isArray(v) && v.every((t) => typeof t === 'string' && t !== '' && !t.includes(',') && t.isWellFormed()),
  source: (v) => typeof v === 'string' && v.isWellFormed(),
  owner: (v) => typeof v === 'string' && v.isWellFormed(),
};

const MEMBER_IS = {
  expectedVersion: 'a non-negative integer',
  expectedChecksum: 'a string (well-formed Unicode)',
  tags: 'a list of non-empty strings without commas (well-formed Unicode)',
  source: 'a string (well-formed Unicode)',
  owner: 'a string (well-formed Unicode)',
};

/**
 * The query string of a write's explicit expectations: the server's
 * `expectedVersion` and `expectedChecksum` parameters are the core's own
 * guard, as a local service applies it (a deleted record's checksum
 * matches it, as it does locally), where If-Match is RFC 9110's condition
 * on the current record.
 */
function expectations(options = {}) {
  const query = new URLSearchParams();
  if (options.expectedVersion !== undefined) query.set('expectedVersion', String(Number(options.expectedVersion)));
  if (options.expectedChecksum !== undefined) query.set('expectedChecksum', options.expectedChecksum);
  const text = query.toString();
  return text ? `?${text}` : '';
}

/**
 * Creates the cache of a server: `options.remote` is `{ url, token?,
 * fetch? }`; the other options are the local service's (`store`,
 * `namespace`...). Without `tenant`, the server says whose the token is.
 * Resolves once the first replication is done, or found the server
 * unreachable (then the cache answers what it holds and keeps retrying).
 */
export async function createRemoteService(createLocal, options, jsonText) {
  const { remote, ...rest } = options;
  if (remote === null || typeof remote !== 'object' || typeof remote.url !== 'string') {
    throw metadataError('VALIDATION', 'remote must be { url, token? }', { field: 'remote' });
  }
  let { tenant, actor } = rest;
  if (tenant === undefined) {
    try {
      const who = await serverOf(remote).identity();
      tenant = who.tenant;
      actor ??= who.actor;
    } catch (error) {
      if (error?.code !== 'STORAGE_UNAVAILABLE') throw error;
      tenant = null;
    }
  }
  const local = await createLocal({
    ...rest,
    tenant,
    ...(actor ? { actor } : {}),
    // The server decides who may do what; the cache holds what it allowed.
    policy: undefined,
    roles: undefined,
  });
  const service = new RemoteMetadataService(local, remote, jsonText);
  await service.ready;
  return service;
}

/**
 * The service: `local` (a MetadataService over the cache store) and the
 * server at `remote.url`. `jsonText(value)`: the module's reading of a
 * definition (the text a local service would store, or VALIDATION for
 * what JSON cannot carry), so that a cache writes what a local service
 * writes: JSON.stringify alone would send NaN as null, drop functions and
 * unwrap boxed strings.
 */
export class RemoteMetadataService {
  constructor(local, remote, jsonText) {
    this.local = local;
    this.jsonText = jsonText;
    this.server = serverOf(remote);
    this.position = null;
    this.online = false;
    this.closed = false;
    this.abort = new AbortController();
    this.statusListeners = new Set();
    this.ready = this.#start();
    this.following = null;
  }

  /** The cache's store (`indexeddb`, `localstorage`, `memory`...). */
  get storeKind() {
    return this.local.storeKind;
  }

  get storeNote() {
    return `${this.local.storeNote}; cache of ${this.server.base}`;
  }

  get tenant() {
    return this.local.tenant;
  }

  get actor() {
    return this.local.actor;
  }

  get sharesAcrossTabs() {
    return this.local.sharesAcrossTabs;
  }

  /** Calls `listener({ online, position, error? })` when the link to the server changes. */
  onStatus(listener) {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  #status(online, error) {
    const changed = online !== this.online;
    this.online = online;
    if (changed || error) {
      for (const listener of this.statusListeners) {
        try {
          listener({ online, position: this.position, ...(error ? { error } : {}) });
        } catch {
          // A listener's failure is its own.
        }
      }
    }
  }

  async #start() {
    try {
      await this.#replicate();
    } catch (error) {
      // Offline at start: the cache answers what it holds; the stream
      // retries and replicates once the server is back.
      this.#status(false, error);
    }
    this.following = this.#follow();
  }

  async #replicate() {
    const { position, items } = await this.server.manifest();
    await this.local.replicate(items, (wanted) => this.server.fetchRecords(wanted.map(({ tenant_id, type, name }) => ({ tenant_id, type, name }))));
    this.position = position;
    this.#status(true);
  }

  // Applies the changes of the stream: fetches the current record of each
  // changed one (a change that is already here is skipped), mirrors it.
  async #apply(events) {
    const wanted = [];
    const gone = [];
    for (const e of events) {
      const key = { tenant_id: e.tenant_id, type: e.type, name: e.name };
      if (e.operation === 'purge') {
        gone.push(key);
        continue;
      }
      wanted.push(key);
    }
    const records = wanted.length ? await this.server.fetchRecords(wanted) : [];
    const found = new Set(records.map((r) => `${r.tenant_id}/${r.type}/${r.name}`));
    for (const key of wanted) {
      // Asked for and not there any more: purged since.
      if (!found.has(`${key.tenant_id}/${key.type}/${key.name}`)) gone.push(key);
    }
    await this.local.mirror(records, { gone });
  }

  async #follow() {
    let wait = RETRY_MIN_MS;
    while (!this.closed) {
      // One controller per connection: a failed batch ends this connection
      // only; close() ends them all.
      const connection = new AbortController();
      const stop = () => connection.abort();
      this.abort.signal.addEventListener('abort', stop, { once: true });
      try {
        if (this.position === null) await this.#replicate();
        const response = await this.server.stream(this.position, connection.signal);
        if (!response.ok) throw metadataError('STORAGE_UNAVAILABLE', `the change stream answered ${response.status}`);
        this.#status(true);
        wait = RETRY_MIN_MS;
        let queue = [];
        let pending = Promise.resolve();
        let failure = null;
        try {
          await readEvents(response.body, (message) => {
            if (message.event !== 'change') return;
            queue.push({ event: JSON.parse(message.data), id: message.id });
            // Changes arriving while one batch is applied are applied together.
            pending = pending.then(async () => {
              if (queue.length === 0 || failure) return;
              const batch = queue;
              queue = [];
              try {
                await this.#apply(batch.map((b) => b.event));
                this.position = batch[batch.length - 1].id;
              } catch (error) {
                // Resumed from the last applied position on reconnect.
                failure = error;
                connection.abort();
              }
            });
          }, connection.signal);
        } catch (error) {
          failure ??= error;
        }
        await pending;
        if (failure) throw failure;
      } catch (error) {
        if (this.closed) return;
        this.#status(false, error);
      } finally {
        this.abort.signal.removeEventListener('abort', stop);
      }
      if (this.closed) return;
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 2, RETRY_MAX_MS);
    }
  }

  /** Stops following the server (the local service stays usable). */
  close() {
    this.closed = true;
    this.abort.abort();
  }

  /** Fetches the server's current record of (type, name) into the cache. */
  async refresh(type, name) {
    const own = { tenant_id: this.local.tenant ?? null, type, name };
    const keys = own.tenant_id === null ? [own] : [own, { ...own, tenant_id: null }];
    const records = await this.server.fetchRecords(keys);
    const found = new Set(records.map((r) => r.tenant_id ?? null));
    await this.local.mirror(records, { gone: keys.filter((k) => !found.has(k.tenant_id)) });
  }

  // The cached own record of (type, name), or null: read by every write
  // before it goes out (after its options, as the local service judges
  // them), which refuses a type or name the local service refuses, with
  // its error (a name such as '..' or one with a lone surrogate cannot
  // travel in a URL as it is).
  #own(type, name) {
    return this.local.loadOwnRecord(type, name);
  }

  // The pin of a write: the checksum of the cached own record; its version
  // when that record is deleted (a deleted record's checksum names no
  // current version, so If-Match would fail); "no current record" when
  // none is cached. Explicit options win.
  #pin(cached, options) {
    if (options && (options.expectedChecksum !== undefined || options.expectedVersion !== undefined)) {
      return { headers: {}, query: expectations(options) };
    }
    if (cached === null) return { headers: { 'if-none-match': '*' }, query: '' };
    if (!cached.is_active) return { headers: {}, query: `?expectedVersion=${cached.version}` };
    return { headers: { 'if-match': etagOf(cached.checksum) }, query: '' };
  }

  // A write's answer lands locally; a conflict brings the server's version
  // into the cache before it is reported.
  async #write(type, name, send) {
    try {
      const out = await send();
      const outcome = out.record ? out : { record: null, ...out };
      if (outcome.record) await this.local.mirror([outcome.record], { own: true });
      return outcome;
    } catch (error) {
      if (error?.code === 'CONFLICT' && name !== null) await this.refresh(type, name).catch(() => {});
      throw error;
    }
  }

  async save(type, name, data, options) {
    // In the local service's order: options, data, then type and name.
    const { expectedChecksum, expectedVersion, ...rest } = checked(options, SAVE_OPTIONS);
    const text = this.jsonText(data);
    const cached = await this.#own(type, name);
    const pin = this.#pin(cached, { expectedChecksum, expectedVersion });
    const query = new URLSearchParams(pin.query ? pin.query.slice(1) : '');
    if (rest.tags !== undefined) query.set('tags', rest.tags.join(','));
    // An empty source or owner is the server's to refuse, as the local
    // service refuses it (it had been left out).
    if (rest.source !== undefined) query.set('source', rest.source);
    if (rest.owner !== undefined) query.set('owner', rest.owner);
    const q = query.toString() ? `?${query}` : '';
    return this.#write(type, name, () => this.server.put(type, name, text, pin.headers, q));
  }

  async delete(type, name, options) {
    const given = checked(options, CHANGE_OPTIONS);
    const pin = this.#pin(await this.#own(type, name), given);
    // A record the cache does not hold (a save's If-None-Match: *) is
    // deleted only if the server has none either (a conflict then brings
    // it into the cache): it had been deleted unseen.
    const query = pin.headers['if-none-match'] ? '?expectedVersion=0' : pin.query;
    return this.#write(type, name, () => this.server.remove(type, name, pin.headers['if-match'] ? { 'if-match': pin.headers['if-match'] } : {}, query));
  }

  async restore(type, name, options) {
    const query = expectations(checked(options, CHANGE_OPTIONS));
    await this.#own(type, name);
    return this.#write(type, name, () => this.server.post(type, name, 'restore', {}, query));
  }

  async rollback(type, name, version, options) {
    const query = expectations(checked(options, CHANGE_OPTIONS));
    // As the local service reads it: a boxed number or a BigInt had gone
    // out as a version (or thrown a TypeError).
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
      throw metadataError('VALIDATION', 'invalid version: must be a positive integer', { field: 'version' });
    }
    await this.#own(type, name);
    return this.#write(type, name, () => this.server.post(type, name, 'rollback', { version }, query));
  }

  async purge(type, name, options) {
    const query = expectations(checked(options, CHANGE_OPTIONS));
    await this.#own(type, name);
    const event = await this.server.post(type, name, 'purge', {}, query);
    await this.local.mirror([], { gone: [{ tenant_id: event.tenant_id, type, name }], own: true });
    return event;
  }

  async saveMany(items) {
    const tenantId = this.local.tenant ?? null;
    let body;
    const refusals = new WeakSet();
    try {
      // The items as JSON reads them (each toJSON asked once, own members
      // only), their options judged as the local service judges them: a
      // Map would go out as {}. The rest the server judges.
      const index = new WeakMap();
      let list;
      const refuse = (holder, field, message) => {
        const item = { type: typeof holder.type === 'string' ? holder.type : '', name: typeof holder.name === 'string' ? holder.name : '' };
        const error = metadataError('VALIDATION', `batch item ${index.get(holder)} (${item.type}/${item.name}) failed: ${message}`,
          { index: index.get(holder), key: { tenantId, ...item }, field });
        refusals.add(error);
        return error;
      };
      const jsonText = this.jsonText;
      body = JSON.stringify(items, function (key, value) {
        if (this !== null && typeof this === 'object' && key === '' && list === undefined) {
          list = value;
        } else if (this === list && Array.isArray(list)) {
          if (value !== null && typeof value === 'object') index.set(value, Number(key));
        } else if ((key === 'data' || key === 'options') && index.has(this) && value !== undefined) {
          if (key === 'options' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
            const bad = notPlain(value);
            if (bad !== null) throw refuse(this, 'options', `invalid options: ${bad}`);
          }
          // Read as the local service reads it (JSON has asked its toJSON
          // already): what JSON cannot carry is refused, not sent as null
          // or left out. The rest the server's core judges, as the local
          // service's does.
          try {
            return JSON.parse(jsonText({ toJSON: () => value }));
          } catch (e) {
            throw refuse(this, 'item', `invalid item: ${JSON.stringify(key)}: ${describe(e).replace(/^invalid data: /, '')}`);
          }
        }
        return value;
      });
    } catch (e) {
      if (refusals.has(e)) throw e;
      // Which item was being read when it threw JSON does not say: none is
      // named.
      throw metadataError('VALIDATION', `invalid items: ${describe(e)}`, { field: 'items' });
    }
    const outcomes = await this.server.batch(body);
    await this.local.mirror(outcomes.map((o) => o.record), { own: true });
    return outcomes;
  }

  /** A record's whole history, from the server (the cache holds only what it mirrored). */
  async history(type, name) {
    try {
      return await this.server.history(type, name);
    } catch (error) {
      if (error?.code === 'STORAGE_UNAVAILABLE') return this.local.history(type, name);
      throw error;
    }
  }
}

// Reads, answered by the cache.
for (const method of ['load', 'resolve', 'loadRecord', 'loadOwnRecord', 'loadMany', 'resolveMany', 'query', 'changes',
  'lastSequence', 'subscribe', 'invalidate', 'diff', 'manifest', 'register']) {
  RemoteMetadataService.prototype[method] = function (...args) {
    return this.local[method](...args);
  };
}
