import type { CreateOptions, MetadataService } from './index.js';
import type { RemoteMetadataService } from './index.js';

/** The part of an ObjectStackClient this wrapper needs. */
export interface MetaClient {
  baseUrl: string;
  token?: string;
  meta: {
    getItem(type: string, name: string, options?: unknown): Promise<unknown>;
    getItems(type: string, options?: unknown): Promise<unknown>;
    saveItem(type: string, name: string, item: unknown, options?: { ifMatch?: string; [k: string]: unknown }): Promise<unknown>;
    deleteItem(type: string, name: string, options?: { ifMatch?: string; [k: string]: unknown }): Promise<unknown>;
    [method: string]: unknown;
  };
}

/**
 * `client` with `meta.getItem` / `meta.getItems` answered by a local cache
 * synced to its server, and `meta.saveItem` / `meta.deleteItem` pinned to
 * the cached version.
 */
export function withMetadataCache<C extends MetaClient>(client: C, options?: Omit<CreateOptions, 'remote'>): C & {
  /** Resolves once the cache replicated the server. */
  readonly ready: Promise<C>;
  /** The cache. */
  readonly cache: Promise<RemoteMetadataService>;
  meta: C['meta'] & {
    getItem(type: string, name: string): Promise<{ type: string; name: string; item: Record<string, unknown> }>;
    getItems(type: string): Promise<{ type: string; items: Record<string, unknown>[] }>;
  };
};

export type { MetadataService };
