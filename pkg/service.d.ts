// Types of MetadataService.create with a project folder as its file layer.
import type { CreateOptions, MetadataService as CoreService } from './node/objectstack_metadata.js';
import type { ProjectFilesOptions } from './project.js';
import type { RemoteMetadataService } from './remote.js';

/** Options of `MetadataService.create`; `files` may name a project folder (Node). */
export interface ServiceCreateOptions extends Omit<CreateOptions, 'files'> {
  /**
   * Metadata files for the file layer: path -> text, or (Node only) a project
   * folder, loaded once at creation: `{ project: './my-app' }`.
   */
  files?: Record<string, string> | ProjectFilesOptions;
}

/** The `MetadataService` class as exported by the package. */
export interface MetadataServiceClass extends Omit<typeof CoreService, 'create' | 'prototype'> {
  readonly prototype: CoreService;
  /** The cache of a metadata server (`remote: { url, token }`). */
  create(options: ServiceCreateOptions & { remote: NonNullable<CreateOptions['remote']> }): Promise<RemoteMetadataService>;
  /** Opens a service (see the core's `create`); `files.project` loads a project folder first. */
  create(options?: ServiceCreateOptions | null): Promise<CoreService>;
  [Symbol.hasInstance](value: unknown): value is CoreService;
}

export declare function withProjectFiles(
  core: typeof CoreService,
  loadFiles: (spec: ProjectFilesOptions) => Promise<Record<string, string>>,
): MetadataServiceClass;
export declare function projectsUnsupported(): never;
