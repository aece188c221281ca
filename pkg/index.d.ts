// Types of the package: the same API on Node and in browsers.
import type { MetadataService as CoreService } from './node/objectstack_metadata.js';
import type { MetadataServiceClass } from './service.js';

export * from './node/objectstack_metadata.js';

// The generated class declares `[Symbol.dispose]()` (so `using` frees it),
// which needs `Symbol.dispose` in the program's lib: ES2022 and earlier libs,
// TypeScript's default up to target es2022, lack it. This is the same
// declaration lib.esnext.disposable and @types/node make, so it merges with
// theirs where they are present.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

export type { ServiceCreateOptions, MetadataServiceClass } from './service.js';
export type { ProjectFilesOptions } from './project.js';
export type { RemoteMetadataService } from './remote.js';

/** Versioned metadata storage; `create` also takes `files: { project }` on Node. */
export declare const MetadataService: MetadataServiceClass;
export type MetadataService = CoreService;
