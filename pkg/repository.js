// Upstream ObjectStack's MetadataRepository contract over this package's
// service: get / getByHash / put with a parent version / delete / list /
// history / watch, with `sha256:` content hashes (upstream's hashSpec) as
// versions, tenants as orgs, and the store's change-log sequence numbers as
// `seq`. Conflicts throw upstream's own ConflictError (from the installed
// @objectstack/metadata-core, a peer dependency), so `instanceof` holds.

import { MetadataService } from '@objectstack/metadata-wasm';
import { eventsOf, headVersion, versionOf } from './upstream.js';
import { metadataError } from './errors.js';

let core;
try {
  core = await import('@objectstack/metadata-core');
} catch (cause) {
  throw metadataError(
    'UNSUPPORTED',
    'createRepository needs the @objectstack/metadata-core package (its ConflictError): npm install @objectstack/metadata-core',
    undefined,
    cause,
  );
}
const { ConflictError } = core;

/**
 * A MetadataRepository over this package.
 *
 * @param {object} [options]
 * @param {any} [options.store] what `MetadataService.create` takes ('memory' by default, a SQLite store...)
 * @param {string} [options.org] the org `list` and `watch` use when the filter names none (default 'system')
 * @param {string} [options.globalOrg] the org that means the global scope (default 'env')
 * @param {string} [options.tenant] serve this org only: refs naming another are refused
 * @param {string} [options.actor] the acting user when a call names none (default 'system')
 * @param {string[]} [options.roles] and [options.policy]: access control, as `MetadataService.create` takes it
 */
export async function createRepository(options = {}) {
  const {
    store = 'memory',
    org: defaultOrg = 'system',
    globalOrg = 'env',
    tenant,
    actor: defaultActor = 'system',
    roles,
    policy,
  } = options;
  // One store for every org and actor: the services derived from one root.
  const root = await MetadataService.create({
    store,
    actor: defaultActor,
    ...(roles ? { roles } : {}),
    ...(policy ? { policy } : {}),
  });
  const services = new Map();

  function orgOf(ref) {
    const org = ref?.org ?? defaultOrg;
    if (tenant !== undefined && org !== tenant) {
      throw metadataError('FORBIDDEN', `this repository serves org ${JSON.stringify(tenant)}, not ${JSON.stringify(org)}`);
    }
    return org;
  }

  // The service of one org and actor; they share the store, and hear each
  // other's changes through it.
  function service(org, actor) {
    const key = `${org}\u0000${actor}`;
    if (!services.has(key)) {
      services.set(key, root.derive({ tenant: org === globalOrg ? null : org, actor }));
    }
    return services.get(key);
  }

  const svcFor = async (ref, actor) => service(orgOf(ref), actor ?? defaultActor);

  const headHash = headVersion;
  const publicEvent = (event) => ({ ...event });

  function itemOf(org, event) {
    const e = event.entry;
    return {
      ref: { org, type: e.type, name: e.name },
      body: e.data,
      hash: event.hash,
      parentHash: event.parentHash,
      authoredBy: e.actor,
      authoredAt: e.timestamp,
      seq: e.seq,
    };
  }

  async function lineage(ref, actor) {
    const svc = await svcFor(ref, actor);
    return eventsOf(orgOf(ref), await svc.history(ref.type, ref.name));
  }

  const repository = {
    async get(ref) {
      if (ref.version) return repository.getByHash(ref, ref.version);
      const svc = await svcFor(ref);
      const head = await svc.loadOwnRecord(ref.type, ref.name);
      if (!head || !head.is_active) return null;
      const events = await lineage(ref);
      const last = events.at(-1);
      return last && last.hash !== null ? itemOf(orgOf(ref), last) : null;
    },

    async getByHash(ref, hash) {
      const events = await lineage(ref);
      for (let i = events.length - 1; i >= 0; i--) {
        if (events[i].hash === hash) return itemOf(orgOf(ref), events[i]);
      }
      return null;
    },

    async put(ref, spec, opts = {}) {
      const svc = await svcFor(ref, opts.actor ?? undefined);
      const head = await svc.loadOwnRecord(ref.type, ref.name);
      const current = headHash(head);
      const parent = opts.parentVersion ?? null;
      if (parent !== current) throw new ConflictError(ref, parent, current);
      let outcome;
      try {
        // Guarded by what was read: a writer in between is a conflict.
        outcome = await svc.save(ref.type, ref.name, spec, { expectedVersion: head ? head.version : 0 });
      } catch (error) {
        if (error?.code !== 'CONFLICT') throw error;
        const now = await svc.loadOwnRecord(ref.type, ref.name);
        throw new ConflictError(ref, parent, headHash(now));
      }
      const events = await lineage(ref, opts.actor ?? undefined);
      const last = events.at(-1);
      const item = itemOf(orgOf(ref), last);
      if (opts.message !== undefined) item.message = opts.message;
      return { version: item.hash, seq: outcome.record.seq, item };
    },

    async delete(ref, opts = {}) {
      const svc = await svcFor(ref, opts.actor ?? undefined);
      const head = await svc.loadOwnRecord(ref.type, ref.name);
      const current = headHash(head);
      if (opts.parentVersion !== current || current === null) throw new ConflictError(ref, opts.parentVersion ?? null, current);
      try {
        const out = await svc.delete(ref.type, ref.name, { expectedVersion: head.version });
        return { seq: out.record.seq };
      } catch (error) {
        if (error?.code !== 'CONFLICT') throw error;
        const now = await svc.loadOwnRecord(ref.type, ref.name);
        throw new ConflictError(ref, opts.parentVersion, headHash(now));
      }
    },

    async *list(filter = {}) {
      const org = orgOf(filter);
      const svc = service(org, defaultActor);
      const page = await svc.query({ active: true, ...(filter.type ? { type: filter.type } : {}) });
      let count = 0;
      for (const record of page.items) {
        if (filter.nameContains && !record.name.includes(filter.nameContains)) continue;
        if (filter.cursor && `${record.type}/${record.name}` <= filter.cursor) continue;
        if (filter.limit !== undefined && count >= filter.limit) return;
        count += 1;
        yield {
          ref: { org, type: record.type, name: record.name },
          hash: versionOf(record),
          parentHash: null,
          authoredBy: record.updated_by,
          authoredAt: record.updated_at,
          seq: record.seq,
        };
      }
    },

    async *history(ref, opts = {}) {
      let count = 0;
      for (const event of await lineage(ref)) {
        if (opts.sinceSeq !== undefined && event.seq <= opts.sinceSeq) continue;
        if (opts.limit !== undefined && count >= opts.limit) return;
        count += 1;
        yield publicEvent(event);
      }
    },

    watch(filter = {}, since) {
      const org = orgOf(filter);
      const queue = [];
      const waiting = [];
      let closed = false;
      // What ended the stream, if the change log could not be read: the
      // iterator hands out what it holds, then throws it.
      let failure = null;
      let failing = false;
      let last = since ?? 0;
      let chain = Promise.resolve();
      const deliver = (result) => {
        const next = waiting.shift();
        if (next) next.resolve(result);
        else queue.push(result);
      };
      // Each change becomes an upstream event (its hash needs the version's
      // body), one after another so the order holds.
      const hear = (change) => {
        chain = chain.then(async () => {
          if (closed || change.sequence <= last) return;
          if (filter.type && change.type !== filter.type) return;
          if (filter.name && change.name !== filter.name) return;
          last = change.sequence;
          const events = await lineage({ org, type: change.type, name: change.name });
          const event = events.find((e) => e.seq === change.sequence);
          if (event && !closed) deliver({ value: publicEvent(event), done: false });
        }).catch(() => {});
      };
      // Listening starts now, before the first next(): nothing committed
      // after watch() returns is missed.
      const svc = service(org, defaultActor);
      const scope = org === globalOrg ? null : org;
      // A replay whose change log cannot be read ends the iteration with
      // the error, after what was already delivered (the caller may watch
      // again from the last seq it saw).
      const fail = (error) => {
        if (closed || failing) return;
        failing = true;
        unsubscribe();
        // After the changes heard before it are delivered.
        chain = chain.then(() => {
          if (closed) return;
          closed = true;
          // Told once: to the next() waiting, or else to the next one.
          const waiters = waiting.splice(0);
          if (waiters.length === 0) failure = error;
          waiters.forEach((next, i) => (i === 0 ? next.reject(error) : next.resolve({ value: undefined, done: true })));
        });
      };
      const unsubscribe = since === undefined
        ? svc.subscribe((e) => { if (e.tenant_id === scope) hear(e); })
        : svc.subscribe(hear, { since, onError: fail });
      const iterator = {
        async next() {
          if (queue.length) return queue.shift();
          if (failure) {
            const error = failure;
            failure = null;
            throw error;
          }
          if (closed) return { value: undefined, done: true };
          return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
        },
        async return() {
          closed = true;
          failure = null;
          unsubscribe();
          for (const next of waiting.splice(0)) next.resolve({ value: undefined, done: true });
          return { value: undefined, done: true };
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
    },
  };
  return repository;
}
