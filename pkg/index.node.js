// Node entry: the wasm module loads synchronously on import.
import { MetadataService as CoreService, jsonText } from './node/objectstack_metadata.js';
import { withProjectFiles } from './service.js';

export * from './node/objectstack_metadata.js';

// MetadataService.create also takes `files: { project: '<folder>' }`.
export const MetadataService = withProjectFiles(CoreService, async (spec) => {
  const { loadProjectFiles } = await import('./project.js');
  return loadProjectFiles(spec);
}, jsonText);
