// MetadataService whose file layer can be a project folder (the ADR's
// migration phase 1: the database first, the project's files second):
//   await MetadataService.create({ store, files: { project: './my-app' } });
// The folder is loaded once, at creation, by the project loader; its
// definitions become the file layer as JSON texts.

import { metadataError } from './errors.js';

function isProjectSpec(files) {
  return files !== null && typeof files === 'object' && Object.hasOwn(files, 'project');
}

// Whether create()'s options name a project folder. Options that cannot be
// read (a throwing getter, a revoked Proxy) are the core's to refuse, with
// a VALIDATION error.
function namesProject(options) {
  try {
    return options !== null && typeof options === 'object' && isProjectSpec(options.files);
  } catch {
    return false;
  }
}

// Whether `options` ask for the cache of a metadata server (read as above).
function namesRemote(options) {
  try {
    return options !== null && typeof options === 'object' && options.remote !== undefined;
  } catch {
    return false;
  }
}

// Methods that answer at once; every other method answers with a Promise.
const SYNC_METHODS = new Set(['derive', 'subscribe', 'invalidate']);

// A freed service (free(), or the end of a `using` block) refuses every
// method with STORAGE_UNAVAILABLE, the way a closed store does, rather than
// with the bindings' "null pointer passed to rust"; free() twice does
// nothing. Patches the class's own methods once.
function guardFreed(Core) {
  const proto = Core.prototype;
  if (Object.hasOwn(proto, GUARDED)) return;
  const freed = new WeakSet();
  const refusal = (name) => metadataError('STORAGE_UNAVAILABLE', `${name}: this MetadataService was freed; create another`, { operation: name });
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === 'constructor' || name.startsWith('__')) continue;
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (name === 'free') {
      const free = d.value;
      d.value = function freeOnce() {
        if (freed.has(this)) return;
        freed.add(this);
        free.call(this);
      };
    } else if (typeof d.value === 'function') {
      const method = d.value;
      const sync = SYNC_METHODS.has(name);
      d.value = {
        [name](...args) {
          if (freed.has(this)) {
            if (sync) throw refusal(name);
            return Promise.reject(refusal(name));
          }
          return method.apply(this, args);
        },
      }[name];
    } else if (typeof d.get === 'function') {
      const get = d.get;
      d.get = function () {
        if (freed.has(this)) throw refusal(name);
        return get.call(this);
      };
    } else {
      continue;
    }
    Object.defineProperty(proto, name, d);
  }
  if (Symbol.dispose) proto[Symbol.dispose] = proto.free;
  Object.defineProperty(proto, GUARDED, { value: true });
}

const GUARDED = Symbol('guarded against use after free');

/**
 * `Core` with a `create` that also takes `files: { project, ... }`;
 * `loadFiles(spec)` turns that into the path -> text map the core takes.
 * Instances are the core's own (`instanceof` holds for both). `jsonText`:
 * the module's, which a server's cache reads definitions with, as the
 * local service reads them.
 */
export function withProjectFiles(Core, loadFiles, jsonText) {
  guardFreed(Core);
  class MetadataService extends Core {
    static async create(options) {
      if (namesRemote(options)) {
        // The cache of a metadata server (remote.js).
        const { createRemoteService } = await import('./remote.js');
        return createRemoteService((local) => MetadataService.create(local), options, jsonText);
      }
      if (namesProject(options)) {
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
  throw metadataError(
    'UNSUPPORTED',
    'files.project reads a project folder, which needs Node; in the browser pass files as path -> text',
    { field: 'files' },
  );
}
