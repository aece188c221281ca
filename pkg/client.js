// For users of the real @objectstack/client: its metadata reads answered
// by a local cache synced to the server, its writes through the client,
// pinned to the cached version.
//
//   import { ObjectStackClient } from '@objectstack/client';
//   import { withMetadataCache } from '@objectstack/metadata-wasm/client';
//   const client = withMetadataCache(new ObjectStackClient({ baseUrl, token }), { store: 'auto' });
//   await client.ready;
//   const { item } = await client.meta.getItem('object', 'account');   // local, offline too

import { MetadataService } from '@objectstack/metadata-wasm';
import { versionOf } from './upstream.js';

function notFound(type, name) {
  const error = new Error(`Metadata item ${type}/${name} not found`);
  error.code = 'RESOURCE_NOT_FOUND';
  error.httpStatus = 404;
  return error;
}

/**
 * Wraps `client` (an ObjectStackClient): `meta.getItem` and `meta.getItems`
 * answer from a cache of the server (`options`: the local store's, as
 * `MetadataService.create` takes them, e.g. `{ store: 'auto', namespace }`);
 * `meta.saveItem` and `meta.deleteItem` go through the client with
 * `ifMatch` set to the cached version, and bring the answer into the cache.
 * Everything else is the client's own. `ready` resolves once the cache
 * replicated the server; `cache` is the cache's MetadataService.
 */
export function withMetadataCache(client, options = {}) {
  const ready = MetadataService.create({
    ...options,
    remote: { url: client.baseUrl, token: client.token, ...(client.fetchImpl ? { fetch: client.fetchImpl } : {}) },
  });
  const pinOf = async (cache, type, name, given) => {
    if (given) return given;
    const cached = await cache.loadOwnRecord(type, name);
    return cached && cached.is_active ? versionOf(cached) : undefined;
  };
  const meta = Object.create(client.meta);
  Object.assign(meta, {
    async getItem(type, name) {
      const cache = await ready;
      const item = await cache.load(type, name);
      if (item === null) throw notFound(type, name);
      return { type, name, item };
    },
    async getItems(type) {
      const cache = await ready;
      return { type, items: await cache.loadMany(type) };
    },
    async saveItem(type, name, item, opts = {}) {
      const cache = await ready;
      const ifMatch = await pinOf(cache, type, name, opts.ifMatch);
      try {
        return await client.meta.saveItem(type, name, item, { ...opts, ...(ifMatch ? { ifMatch } : {}) });
      } finally {
        // The server's version, whether the write won or lost.
        await cache.refresh(type, name).catch(() => {});
      }
    },
    async deleteItem(type, name, opts = {}) {
      const cache = await ready;
      const ifMatch = await pinOf(cache, type, name, opts.ifMatch);
      try {
        return await client.meta.deleteItem(type, name, { ...opts, ...(ifMatch ? { ifMatch } : {}) });
      } finally {
        await cache.refresh(type, name).catch(() => {});
      }
    },
  });
  const wrapped = Object.create(client);
  Object.defineProperties(wrapped, {
    meta: { value: meta, enumerable: true },
    ready: { value: ready.then(() => wrapped) },
    cache: { get: () => ready },
  });
  return wrapped;
}
