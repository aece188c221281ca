// Types of the project loader (`@objectstack/metadata-wasm/project`, Node).

/** Why a file or a definition was refused. */
export type RefusalCode =
  /** The definition holds a value JSON cannot carry (function, class instance, undefined in an array, cycle, ...). */
  | 'NOT_JSON'
  /** Two different definitions of one (type, name). */
  | 'DUPLICATE'
  /** The module threw while loading (or later, from a timer or promise it left). */
  | 'LOAD_FAILED'
  /** The module did not finish loading within the time limit. */
  | 'TIMEOUT'
  /** esbuild could not compile the module, or it imports a file outside the project folder. */
  | 'BUNDLE_FAILED'
  /** A JSON / YAML file, or a definition, the core refuses (syntax, not an object, too deep, ...). */
  | 'PARSE_FAILED'
  /** The definition's name (or type) is not a valid metadata identifier. */
  | 'INVALID_NAME';

/** One refusal: nothing of it is imported or served. */
export interface Refusal {
  /** Path of the file, relative to the project folder, with `/`. */
  file: string;
  /** The export (`Account`, `default`, `allActions[2]`, `objects.account`), or null for a whole file. */
  export: string | null;
  type: string | null;
  name: string | null;
  /** JSON path inside the definition (`$.fields.name.handler`), or null. */
  path: string | null;
  code: RefusalCode;
  message: string;
}

/** One definition found in the project. */
export interface ProjectDefinition {
  type: string;
  name: string;
  data: Record<string, unknown>;
  /** Its JSON text. */
  text: string;
  file: string;
  /** The export it came from; null for a data file. */
  export: string | null;
}

/** Progress of a load: called after each metadata file. */
export interface ProjectProgress {
  index: number;
  total: number;
  file: string;
  /** The type of the file's suffix (null for a data file named by its file name alone). */
  type: string | null;
  definitions: number;
  refused: number;
}

export interface ProjectLoadOptions {
  /** Time limit for loading one module, in ms (default 10000); past it the worker is terminated. */
  timeoutMs?: number;
  /** More metadata types to find by file suffix (`widget` finds `*.widget.ts`). */
  types?: string[];
  /** Folders to resolve packages from after the project's own node_modules (like NODE_PATH). */
  nodePaths?: string[];
  onProgress?: (progress: ProjectProgress) => void;
}

/** What a project folder holds. */
export interface ProjectLoad {
  /** The folder, absolute. */
  root: string;
  /** Files looked at (dependencies, build output, tests and hidden files left out). */
  scanned: number;
  /** The metadata files read, with what each gave. */
  files: Array<{ file: string; type: string | null; definitions: number; refused: number }>;
  /** One per (type, name), ordered by type and name. */
  definitions: ProjectDefinition[];
  refusals: Refusal[];
  /** Exports that are not definitions, and second copies of one definition. */
  skipped: Array<{ file: string; export: string | null; reason: string }>;
  /** Files shaped like metadata files (`<file>.<suffix>.<ext>`) that were not read, and why. */
  ignored: Array<{ file: string; reason: string }>;
}

/** `files` of `MetadataService.create` as a project folder (Node). */
export interface ProjectFilesOptions extends ProjectLoadOptions {
  /** The project folder (relative to the working directory). */
  project: string;
  /** Serve the rest when definitions are refused (default false: creation fails with VALIDATION). */
  skipInvalid?: boolean;
}

/** The metadata types found by file suffix (ObjectStack 17.4's registry). */
export declare const PROJECT_TYPES: readonly string[];
export declare const DEFAULT_TIMEOUT_MS: number;

/**
 * Loads every definition of a project folder. Content problems come back as
 * `refusals`; bad arguments, a missing folder or a missing esbuild reject
 * with a MetadataError (`VALIDATION`, `NOT_FOUND`, `UNSUPPORTED`).
 */
export declare function loadProject(dir: string, options?: ProjectLoadOptions): Promise<ProjectLoad>;
/** The definitions as `MetadataService.create`'s `files` (path -> JSON text). */
export declare function projectFiles(load: ProjectLoad): Record<string, string>;
/** Loads a project for `files`; rejects with `refusalError` unless `skipInvalid`. */
export declare function loadProjectFiles(spec: ProjectFilesOptions): Promise<Record<string, string>>;
/** A VALIDATION MetadataError listing a load's refusals. */
export declare function refusalError(load: ProjectLoad): Error & { name: 'MetadataError'; code: 'VALIDATION'; refusals: Refusal[] };
/** One refusal as a line of text. */
export declare function formatRefusal(refusal: Refusal): string;
