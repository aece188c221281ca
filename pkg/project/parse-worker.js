// Worker of ./parse.js: parses one metadata file and posts the answer.
import { parentPort, workerData } from 'node:worker_threads';
import { parseMetadataFile } from '../node/objectstack_metadata.js';

try {
  parentPort.postMessage({ ok: true, parsed: parseMetadataFile(workerData.path, workerData.text) });
} catch (error) {
  parentPort.postMessage({ ok: false, message: String(error?.message ?? error), code: error?.code ?? 'VALIDATION' });
}
