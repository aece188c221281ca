// Runs bundled project modules off the main thread (./worker.js), one at a
// time, each with a time limit.

import { Worker } from 'node:worker_threads';

// Heap of the worker: a runaway module ends the worker, not the process.
const WORKER_HEAP_MB = 1024;

/**
 * Evaluates bundled modules in one worker thread, one at a time, each with a
 * time limit; a module that overruns it has its worker terminated and the
 * next module gets a fresh one. `run` resolves with the worker's answer
 * (`{ definitions, refusals, skipped }` or `{ error }`) or with
 * `{ failure: 'TIMEOUT' | 'LOAD_FAILED', error }`; it never rejects.
 * `onStray(message)` hears of errors thrown outside any evaluation.
 */
export class ModuleRunner {
  constructor(timeoutMs, onStray) {
    this.timeoutMs = timeoutMs;
    this.onStray = onStray;
    this.worker = null;
    this.pending = null;
    this.sequence = 0;
  }

  #start() {
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    // What the project's code prints goes to stderr, never into our stdout.
    worker.stdout.pipe(process.stderr, { end: false });
    worker.stderr.pipe(process.stderr, { end: false });
    worker.on('message', (message) => {
      if (worker !== this.worker) return;
      if (message.stray !== undefined) this.onStray(message.stray);
      else if (this.pending?.id === message.id) this.#settle(message);
    });
    worker.on('error', (error) => {
      if (worker !== this.worker) return;
      this.worker = null;
      this.#settle({ failure: 'LOAD_FAILED', error: `the worker failed: ${error.message}` });
    });
    worker.on('exit', (code) => {
      if (worker !== this.worker) return;
      this.worker = null;
      this.#settle({ failure: 'LOAD_FAILED', error: `the module ended its thread (exit code ${code}) while loading` });
    });
    this.worker = worker;
    return worker;
  }

  #settle(message) {
    const pending = this.pending;
    if (pending === null) return;
    this.pending = null;
    clearTimeout(pending.timer);
    pending.resolve(message);
  }

  run(type, code) {
    const worker = this.worker ?? this.#start();
    return new Promise((resolvePending) => {
      const id = ++this.sequence;
      const timer = setTimeout(() => {
        this.worker = null;
        worker.terminate().catch(() => {});
        this.#settle({ failure: 'TIMEOUT', error: `did not finish loading within ${this.timeoutMs} ms (its worker was terminated)` });
      }, this.timeoutMs);
      this.pending = { id, timer, resolve: resolvePending };
      worker.postMessage({ id, type, code });
    });
  }

  async close() {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }
}
