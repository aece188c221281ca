// Browser and bundler entry: fetches and instantiates the wasm module once,
// before any export is used.
import init, { MetadataService as CoreService, jsonText } from './web/objectstack_metadata.js';
import { projectsUnsupported, withProjectFiles } from './service.js';

await init({ module_or_path: new URL('./web/objectstack_metadata_bg.wasm', import.meta.url) });

export * from './web/objectstack_metadata.js';

// Same API as on Node; a project folder needs Node.
export const MetadataService = withProjectFiles(CoreService, projectsUnsupported, jsonText);
