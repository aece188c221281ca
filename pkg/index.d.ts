// Types of the package: the same API on Node and in browsers.
import type { MetadataService as CoreService } from './node/objectstack_metadata.js';
import type { MetadataServiceClass } from './service.js';

export * from './node/objectstack_metadata.js';
export type { ServiceCreateOptions, MetadataServiceClass } from './service.js';
export type { ProjectFilesOptions } from './project.js';

/** Versioned metadata storage; `create` also takes `files: { project }` on Node. */
export declare const MetadataService: MetadataServiceClass;
export type MetadataService = CoreService;
