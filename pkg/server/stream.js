// The change stream as Server-Sent Events: every change the caller can
// read, each once and in order, resumable from where a dropped connection
// left off (`Last-Event-ID`, or `?since=`) with no gap and no duplicate,
// because it follows the stored change log.
//
// A caller of a tenant reads two scopes (the tenant's and the global one),
// each with its own sequence numbers, so its cursor is `<tenant>.<global>`;
// a global caller's cursor is one number.

import { HttpError } from './http.js';

const encoder = new TextEncoder();

/** A cursor from its text form, for a caller with (or without) a tenant. */
export function parseCursor(text, tenanted) {
  if (text === null || text === undefined || text === '') return null;
  const parts = String(text).split('.');
  const numbers = parts.map((p) => (/^\d{1,15}$/.test(p) ? Number(p) : NaN));
  if (numbers.some(Number.isNaN) || parts.length > (tenanted ? 2 : 1)) {
    throw new HttpError(400, 'VALIDATION', `${JSON.stringify(text)} is not a change stream position (${tenanted ? '<tenant>.<global>, or <tenant>' : 'a sequence number'})`, { field: 'since' });
  }
  return tenanted ? { own: numbers[0], global: numbers[1] ?? null } : { own: numbers[0], global: null };
}

/** The text form of a position. */
export function cursorText(position, tenanted) {
  return tenanted ? `${position.own}.${position.global}` : `${position.own}`;
}

/** Where the scopes' change logs end now. */
export async function currentPosition(own, global) {
  return { own: await own.lastSequence(), global: global ? await global.lastSequence() : null };
}

/**
 * An event-stream Response following `own`'s scope (and `global`'s, for a
 * tenant) from `since` (a position; missing parts: from now on).
 */
export async function changeStream({ own, global, since, heartbeatMs = 15000 }) {
  const tenanted = global !== null;
  const now = await currentPosition(own, global);
  const position = {
    own: since?.own ?? now.own,
    global: tenanted ? since?.global ?? now.global : null,
  };
  const stops = [];
  let timer = null;
  const body = new ReadableStream({
    start(controller) {
      const write = (text) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          // The stream is closed: the cancel below tears it down.
        }
      };
      const send = (scope) => (event) => {
        position[scope] = event.sequence;
        write(`id: ${cursorText(position, tenanted)}\nevent: change\ndata: ${JSON.stringify(event)}\n\n`);
      };
      write(`retry: 2000\n: position ${cursorText(position, tenanted)}\n\n`);
      stops.push(own.subscribe(send('own'), { since: position.own }));
      if (tenanted) stops.push(global.subscribe(send('global'), { since: position.global }));
      timer = setInterval(() => write(': keep-alive\n\n'), heartbeatMs);
      timer.unref?.();
    },
    cancel() {
      clearInterval(timer);
      for (const stop of stops) stop();
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    },
  });
}
