import type { MetadataService } from './index.js';

/** The limits a handler applies (bytes, counts, milliseconds). */
export interface HandlerLimits {
  /** Largest body of one definition (default 12 MiB). */
  body: number;
  /** Largest body of a batch (default 64 MiB). */
  batch: number;
  /** Most keys one `_fetch` asks for (default 10,000). */
  fetch: number;
  /** Interval of the change stream's keep-alive comments (default 15,000 ms). */
  heartbeatMs: number;
}

export const DEFAULT_LIMITS: Readonly<HandlerLimits>;

/** A bearer token's identity. Tenant absent or null: global. */
export interface TokenIdentity {
  actor: string;
  roles?: string[];
  tenant?: string | null;
}

export interface HandlerOptions {
  /** The root service (global scope): its store, registry, files and policy are every caller's. */
  service: MetadataService;
  /** Bearer tokens; absent or null: development mode (one anonymous developer with every permission). */
  tokens?: Record<string, TokenIdentity> | null;
  limits?: Partial<HandlerLimits>;
  /** The org of global callers on /api/v1/meta (default 'env'). */
  globalOrg?: string;
  /** Reported by discovery. */
  version?: string;
}

/** A Fetch-API handler: mounts in Hono, node:http (nodeListener), Express through an adapter. */
export interface MetadataHandler {
  fetch(request: Request): Promise<Response>;
  readonly development: boolean;
  close(): void;
}

export function createHandler(options: HandlerOptions): MetadataHandler;

/** A node:http request listener over a handler (`createServer(nodeListener(handler))`). */
export function nodeListener(handler: Pick<MetadataHandler, 'fetch'>, options?: { origin?: string }): (req: unknown, res: unknown) => void;

/** The node:http server `listen` started (typed loosely: no dependency on Node's types). */
export interface RunningServer {
  close(callback?: (error?: Error) => void): unknown;
  address(): unknown;
}

export interface ListenOptions {
  port?: number;
  host?: string;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxConnections?: number;
}

/** Serves a handler on node:http; resolves once it accepts connections. */
export function listen(handler: MetadataHandler, options?: ListenOptions): Promise<{ server: RunningServer; url: string; close(): Promise<void> }>;

export function isLoopback(host: string): boolean;
