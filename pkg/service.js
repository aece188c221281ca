// MetadataService whose file layer can be a project folder (the ADR's
// migration phase 1: the database first, the project's files second):
//   await MetadataService.create({ store, files: { project: './my-app' } });
// The folder is loaded once, at creation, by the project loader; its
// definitions become the file layer as JSON texts.

function isProjectSpec(files) {
  return files !== null && typeof files === 'object' && Object.hasOwn(files, 'project');
}

/**
 * `Core` with a `create` that also takes `files: { project, ... }`;
 * `loadFiles(spec)` turns that into the path -> text map the core takes.
 * Instances are the core's own (`instanceof` holds for both).
 */
export function withProjectFiles(Core, loadFiles) {
  class MetadataService extends Core {
    static async create(options) {
      if (options !== null && typeof options === 'object' && options.remote !== undefined) {
        // The cache of a metadata server (remote.js).
        const { createRemoteService } = await import('./remote.js');
        return createRemoteService((local) => MetadataService.create(local), options);
      }
      if (options !== null && typeof options === 'object' && isProjectSpec(options.files)) {
        return super.create({ ...options, files: await loadFiles(options.files) });
      }
      return super.create(options);
    }

    static [Symbol.hasInstance](value) {
      return value instanceof Core;
    }
  }
  return MetadataService;
}

/** For platforms without a file system: `files.project` is UNSUPPORTED. */
export function projectsUnsupported() {
  const error = new Error('files.project reads a project folder, which needs Node; in the browser pass files as path -> text');
  error.name = 'MetadataError';
  error.code = 'UNSUPPORTED';
  error.field = 'files';
  throw error;
}
