// The ADR's routes, /api/v1/metadata/...: the sys_metadata records
// themselves, with the core's error codes. ETag is the record's checksum;
// If-Match / If-None-Match make a write conditional on the current record
// (RFC 9110: 412, nothing written; see `precondition`), and a read 304;
// the query's expectedVersion / expectedChecksum are the core's own guard.
//
//   GET    /api/v1/metadata                        { types }
//   GET    /api/v1/metadata/_identity              { actor, roles, tenant, development }: who the token is
//   GET    /api/v1/metadata/_manifest[?type=]      { position, items: [{ tenant_id, type, name, version, checksum }] }
//   POST   /api/v1/metadata/_fetch                 [{ tenant_id, type, name }] -> records
//   POST   /api/v1/metadata/_batch                 [{ type, name, data, options }] all or nothing
//   GET    /api/v1/metadata/_changes[?since=]      the change stream (SSE), or with Accept: application/json a page of it
//   GET    /api/v1/metadata/:type[?tags&source&owner&active&updatedSince&offset&limit]
//   POST   /api/v1/metadata/:type                  create (the body's `name`), 409 if it exists
//   GET    /api/v1/metadata/:type/:name
//   PUT    /api/v1/metadata/:type/:name            upsert
//   DELETE /api/v1/metadata/:type/:name            soft delete
//   GET    /api/v1/metadata/:type/:name/history
//   POST   /api/v1/metadata/:type/:name/rollback   { version }
//   POST   /api/v1/metadata/:type/:name/restore
//   POST   /api/v1/metadata/:type/:name/purge

import { ANY, HttpError, countParam, empty, etag, json, readJson, readText, tagsOf } from './http.js';
import { changeStream, currentPosition, cursorText, parseCursor } from './stream.js';
import { BUILT_IN_TYPES as BUILT_IN } from '../upstream.js';

// The plural paths of the ADR (`/api/v1/metadata/views`) for upstream's
// built-in types; any type is also reachable by its own name.
function plural(type) {
  if (/(s|x|z|ch|sh)$/.test(type)) return `${type}es`;
  if (/[^aeiou]y$/.test(type)) return `${type.slice(0, -1)}ies`;
  return `${type}s`;
}
const SINGULAR = new Map(BUILT_IN.filter((t) => plural(t) !== t).map((t) => [plural(t), t]));

/** The type a path segment names. */
export const typeOf = (segment) => SINGULAR.get(segment) ?? segment;

const QUERY_FIELDS = new Set(['tags', 'source', 'owner', 'active', 'updatedSince', 'offset', 'limit']);

function query(url, type) {
  const q = { type };
  for (const [key, value] of url.searchParams) {
    if (!QUERY_FIELDS.has(key)) throw new HttpError(400, 'VALIDATION', `unknown query parameter ${JSON.stringify(key)}`, { field: key });
    switch (key) {
      case 'tags':
        q.tags = value.split(',').filter(Boolean);
        break;
      case 'active':
        if (value !== 'true' && value !== 'false') throw new HttpError(400, 'VALIDATION', 'active is true or false', { field: key });
        q.active = value === 'true';
        break;
      case 'offset':
      case 'limit':
        q[key] = countParam(url, key);
        break;
      default:
        q[key] = value;
    }
  }
  return q;
}

/**
 * Save options from the write's headers and query, and its preconditions
 * (RFC 9110 13.1), which `precondition` checks against the record read
 * first. If-Match compares strongly: a weak tag matches nothing. A star
 * stands alone, and a header with no tag at all is refused.
 */
function writeOptions(request, url, { create = false } = {}) {
  const options = {};
  // A misspelt guard must not be a write without one.
  for (const key of new Set(url.searchParams.keys())) {
    if (!WRITE_PARAMS.has(key)) throw new HttpError(400, 'VALIDATION', `unknown query parameter ${JSON.stringify(key)}`, { field: key });
    if (url.searchParams.getAll(key).length > 1) throw new HttpError(400, 'VALIDATION', `${key} is given more than once`, { field: key });
  }
  const ifMatch = conditionTags(request, 'If-Match', true);
  const ifNoneMatch = conditionTags(request, 'If-None-Match', false);
  const expected = url.searchParams.get('expectedVersion');
  if (expected !== null) {
    // Up to 2^53-1 and a digit past it, which the core refuses as a local
    // service does.
    if (!/^\d{1,16}$/.test(expected)) throw new HttpError(400, 'VALIDATION', 'expectedVersion is a non-negative integer', { field: 'expectedVersion' });
    options.expectedVersion = Number(expected);
  }
  // The core's own guard, as a local service applies it: the stored
  // checksum, a deleted record's too (If-Match is about the current one).
  const expectedChecksum = url.searchParams.get('expectedChecksum');
  if (expectedChecksum !== null) options.expectedChecksum = expectedChecksum;
  const conditional = ifMatch !== null || ifNoneMatch !== null;
  if (create) {
    if (options.expectedVersion !== undefined && options.expectedVersion !== 0) {
      throw new HttpError(400, 'VALIDATION', 'a create expects no version: expectedVersion is 0 or absent', { field: 'expectedVersion' });
    }
    options.expectedVersion = 0;
  }
  for (const key of ['source', 'owner']) {
    const value = url.searchParams.get(key);
    if (value !== null) options[key] = value;
  }
  const tags = url.searchParams.get('tags');
  if (tags !== null) options.tags = tags.split(',').filter(Boolean);
  return { options, conditional, ifMatch, ifNoneMatch };
}

/**
 * Whether a condition's `tags` name `current` (a checksum, or null where
 * there is no current record): `*` any current one, else one of them.
 */
const holds = (tags, current) => current !== null && (tags.includes(ANY) || tags.includes(current));

/** The query parameters a write takes. */
const WRITE_PARAMS = new Set(['expectedVersion', 'expectedChecksum', 'tags', 'source', 'owner']);

/** A weak tag, which strong comparison matches with nothing. */
const WEAK = Symbol('weak entity tag');

/**
 * The tags of a condition header, or null when absent: ANY alone for `*`,
 * WEAK for each weak tag where `strong`. 400 for `*` among tags, or no tag.
 */
function conditionTags(request, header, strong) {
  const tags = tagsOf(request.headers.get(header), strong ? { weak: WEAK } : {});
  if (tags === null) return null;
  if (tags.length === 0) throw new HttpError(400, 'VALIDATION', `${header} names no entity tag`, { field: header });
  if (tags.includes(ANY) && tags.length > 1) throw new HttpError(400, 'VALIDATION', `${header}: * stands alone`, { field: header });
  return tags;
}

/**
 * The preconditions of a write to (type, name) (RFC 9110 13.1.1, 13.1.2),
 * against the record read: If-Match holds only on a record with a current
 * version (one that exists and is not deleted), `*` on any, tags when the
 * current checksum is one of them; If-None-Match `*` holds unless the
 * caller's own record is current (a deleted one is written over, as a
 * save revives it), tags unless the current checksum is one of them. A
 * tenant without a row of its own reads the global record, which its tags
 * then name (If-None-Match `*` is about its own row, which the write
 * makes). 412 and nothing written when one fails; when they hold, the
 * write is pinned to the version read, so a writer in between is a 412
 * (a tenant's write over the global record it read is pinned to its own
 * row not existing: the global one may change meanwhile). `save`: the
 * write makes the record if need be; for the others a record that does
 * not exist is the core's 404, conditions aside (RFC 9110 13.2.1).
 * `create`: a create, whose version is 0 whatever was read.
 */
async function precondition(own, type, name, write, { save = false, create = false, remove = false, rollback = false } = {}) {
  const { ifMatch, ifNoneMatch } = write;
  if (ifMatch === null && ifNoneMatch === null) return;
  const head = await own.loadOwnRecord(type, name);
  const mine = head !== null && head.is_active ? head.checksum : null;
  // If-None-Match: * is about the caller's own row; tags name what it reads.
  const noneMatchAny = ifNoneMatch !== null && ifNoneMatch[0] === ANY;
  let seen = mine;
  if (head === null && own.tenant != null && (ifMatch !== null || (ifNoneMatch !== null && !noneMatchAny))) {
    seen = (await own.loadRecord(type, name))?.checksum ?? null;
  }
  const read = head === null ? 0 : head.version;
  // A rollback makes the record again from its history after a purge: its
  // conditions are weighed as a save's, unless there is no history either.
  // (Its own history: a tenant's lists the global record's too, which its
  // rollback does not reach.)
  if (rollback && head === null) {
    const scope = own.tenant ?? null;
    save = (await own.history(type, name)).some((entry) => (entry.tenant_id ?? null) === scope);
  }
  // What the core answers 404 without conditions: nothing of the caller's
  // own to change (a tenant's delete, restore or purge of a global record
  // it reads too), or a delete of a record already deleted. Pinned all the
  // same: a writer in between makes it a 412, not a write the conditions
  // never saw.
  if (!save && (head === null || (remove && !head.is_active))) {
    write.options.expectedVersion ??= read;
    return;
  }
  const fail = (header) => new HttpError(412, 'CONFLICT', `${header} does not hold for ${type}/${name}`, { key: { type, name } });
  if (ifMatch !== null && !holds(ifMatch, seen)) throw fail('If-Match');
  if (ifNoneMatch !== null && holds(ifNoneMatch, noneMatchAny ? mine : seen)) throw fail('If-None-Match');
  if (create) return;
  // Checked on the version read, the write must be to that version.
  if (write.options.expectedVersion !== undefined && write.options.expectedVersion !== read) {
    throw new HttpError(412, 'CONFLICT', `the conditions were checked on version ${read} of ${type}/${name}, not on expectedVersion ${write.options.expectedVersion}`, { key: { type, name } });
  }
  write.options.expectedVersion = read;
}

/** A conflict on a conditional request is 412; on any other, 409. */
async function guarded(conditional, work) {
  try {
    return await work();
  } catch (error) {
    if (error?.code === 'CONFLICT' && conditional) error.status = 412;
    throw error;
  }
}

/** The top-level `name` of a JSON body, or undefined. */
function nameOf(text) {
  try {
    return JSON.parse(text)?.name;
  } catch {
    return undefined;
  }
}

/** A record's answer: the record, its checksum as ETag. */
const recordResponse = (status, record, extra = {}) => json(status, record, { etag: etag(record.checksum), ...extra });

/** A write's answer: `{ record, changed, operation }`, ETag the new checksum. */
const outcomeResponse = (status, outcome) => json(status, outcome, { etag: etag(outcome.record.checksum) });

function notFound(type, name) {
  return new HttpError(404, 'NOT_FOUND', `${type}/${name} not found`, { key: { type, name } });
}

/**
 * Handles /api/v1/metadata/<rest>. `ctx` gives the caller's services
 * (`own`, `global()` for a tenant's global scope), the limits, and `allow`
 * to answer 405.
 */
export async function adr(request, url, rest, ctx) {
  const { method } = request;
  const { own, limits, allow } = ctx;
  const [first, second, third, ...extra] = rest;
  if (extra.length > 0) throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);

  if (first === undefined) {
    allow(['GET']);
    const manifest = await own.manifest();
    return json(200, { types: [...new Set(manifest.map((e) => e.type))].sort() });
  }

  if (first.startsWith('_')) {
    if (second !== undefined) throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);
    switch (first) {
      case '_identity': {
        allow(['GET']);
        const { actor, roles, tenant, development } = ctx.identity;
        return json(200, { actor, roles, tenant, development });
      }
      case '_manifest': {
        allow(['GET']);
        const global = ctx.global();
        // The position first: what changes after it, the stream delivers.
        const position = await currentPosition(own, global);
        const items = await own.manifest(url.searchParams.get('type') ?? undefined);
        return json(200, { position: cursorText(position, global !== null), items });
      }
      case '_fetch': {
        allow(['POST']);
        const keys = await readJson(request, limits.body);
        if (!Array.isArray(keys) || keys.length > limits.fetch) {
          throw new HttpError(400, 'VALIDATION', `the body is an array of at most ${limits.fetch} { tenant_id, type, name }`, { field: 'keys' });
        }
        const records = [];
        for (const key of keys) {
          if (key === null || typeof key !== 'object') throw new HttpError(400, 'VALIDATION', 'a key is { tenant_id, type, name }', { field: 'keys' });
          const scoped = (key.tenant_id ?? null) === null ? (ctx.global() ?? own) : own;
          if ((key.tenant_id ?? null) !== (scoped.tenant ?? null)) {
            throw new HttpError(403, 'FORBIDDEN', `${key.type}/${key.name} of tenant ${JSON.stringify(key.tenant_id)} is not this caller's`, { field: 'keys' });
          }
          const record = await scoped.loadOwnRecord(key.type, key.name);
          if (record !== null) records.push(record);
        }
        return json(200, records);
      }
      case '_batch': {
        allow(['POST']);
        // Each item's guard is in its options: a condition or a parameter
        // here would be ignored, a batch written without it.
        for (const header of ['If-Match', 'If-None-Match']) {
          if (request.headers.has(header)) throw new HttpError(400, 'VALIDATION', `a batch takes its guards in its items' options, not ${header}`, { field: header });
        }
        const [param] = url.searchParams.keys();
        if (param !== undefined) throw new HttpError(400, 'VALIDATION', `unknown query parameter ${JSON.stringify(param)}`, { field: param });
        const text = await readText(request, limits.batch);
        return json(200, await own.saveManyJson(text));
      }
      case '_changes': {
        allow(['GET']);
        const global = ctx.global();
        const tenanted = global !== null;
        const since = parseCursor(request.headers.get('last-event-id') ?? url.searchParams.get('since'), tenanted);
        const accept = request.headers.get('accept') ?? '';
        if (accept.includes('text/event-stream')) return changeStream({ own, global, since, heartbeatMs: limits.heartbeatMs });
        // A page of the caller's own scope's log.
        const limit = Math.min(countParam(url, 'limit', 1000), 10000);
        return json(200, await own.changes({ since: since?.own ?? 0, limit }));
      }
      default:
        throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);
    }
  }

  const type = typeOf(first);
  if (second === undefined) {
    allow(['GET', 'POST']);
    if (method === 'GET') return json(200, await own.query(query(url, type)));
    const write = writeOptions(request, url, { create: true });
    const text = await readText(request, limits.body);
    // The conditions on the record the body names (a body without a
    // string name is the core's to refuse).
    const name = nameOf(text);
    const conditions = typeof name === 'string' ? () => precondition(own, type, name, write, { save: true, create: true }) : async () => {};
    await conditions();
    try {
      return outcomeResponse(201, await own.saveJson(type, null, text, write.options));
    } catch (error) {
      if (error?.code === 'CONFLICT') {
        // Held before the write: the record exists (409), unless a writer
        // in between made a condition false (412).
        await conditions();
        error.status = 409;
      }
      throw error;
    }
  }

  const name = second;
  if (third === undefined) {
    allow(['GET', 'PUT', 'DELETE']);
    switch (method) {
      case 'GET': {
        const record = await own.loadRecord(type, name);
        // 404 whatever the conditions say (RFC 9110 13.2.1); If-Match on a
        // read of a record: 412 unless it names it.
        if (record === null) throw notFound(type, name);
        const ifMatch = conditionTags(request, 'If-Match', true);
        if (ifMatch !== null && !holds(ifMatch, record.checksum)) {
          throw new HttpError(412, 'CONFLICT', `If-Match does not hold for ${type}/${name}`, { key: { type, name } });
        }
        const ifNoneMatch = tagsOf(request.headers.get('if-none-match'));
        if (ifNoneMatch !== null && holds(ifNoneMatch, record.checksum)) {
          return empty(304, { etag: etag(record.checksum) });
        }
        return recordResponse(200, record);
      }
      case 'PUT': {
        const write = writeOptions(request, url);
        const text = await readText(request, limits.body);
        await precondition(own, type, name, write, { save: true });
        const outcome = await guarded(write.conditional, () => own.saveJson(type, name, text, write.options));
        return outcomeResponse(outcome.record.version === 1 && outcome.changed ? 201 : 200, outcome);
      }
      default: {
        const write = writeOptions(request, url);
        await precondition(own, type, name, write, { remove: true });
        const outcome = await guarded(write.conditional, () => own.delete(type, name, write.options));
        return outcomeResponse(200, outcome);
      }
    }
  }

  switch (third) {
    case 'history':
      allow(['GET']);
      return json(200, await own.history(type, name));
    case 'rollback': {
      allow(['POST']);
      const body = await readJson(request, limits.body);
      // `{ version }`; anything else leaves the version for the core to refuse.
      const version = body !== null && typeof body === 'object' ? body.version : undefined;
      const write = writeOptions(request, url);
      await precondition(own, type, name, write, { rollback: true });
      return outcomeResponse(200, await guarded(write.conditional, () => own.rollback(type, name, version, write.options)));
    }
    case 'restore': {
      allow(['POST']);
      const write = writeOptions(request, url);
      await precondition(own, type, name, write);
      return outcomeResponse(200, await guarded(write.conditional, () => own.restore(type, name, write.options)));
    }
    case 'purge': {
      allow(['POST']);
      const write = writeOptions(request, url);
      await precondition(own, type, name, write);
      return json(200, await guarded(write.conditional, () => own.purge(type, name, write.options)));
    }
    default:
      throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);
  }
}
