// Parsing a metadata data file (JSON, YAML, TypeScript data) without
// holding up the event loop: small files on the spot, large ones in a
// worker thread of their own (the parse is linear, but a few MB of YAML
// still take a noticeable while).

import { Worker } from 'node:worker_threads';
import { parseMetadataFile } from '../node/objectstack_metadata.js';

/** Files at least this long (UTF-16 units) are parsed off the main thread. */
export const OFF_THREAD_CHARS = 256 * 1024;

const WORKER = new URL('./parse-worker.js', import.meta.url);

function parseInWorker(path, text) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: { path, text } });
    let settled = false;
    worker.once('message', (answer) => {
      settled = true;
      if (answer.ok) resolve(answer.parsed);
      else reject(Object.assign(new Error(answer.message), { name: 'MetadataError', code: answer.code }));
      worker.terminate();
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the parsing worker stopped (exit code ${code})`));
    });
  });
}

/** parseMetadataFile's answer, off the main thread for a large file. */
export async function parseDataFile(path, text) {
  if (text.length < OFF_THREAD_CHARS) return parseMetadataFile(path, text);
  return parseInWorker(path, text);
}
