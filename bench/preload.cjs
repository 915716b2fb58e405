/**
 * Preloaded into the benchmarked service (`node --expose-gc -r bench/preload.cjs dist/main.js`)
 * so the bench can ask for a garbage collection and process.memoryUsage() over the IPC
 * channel. It adds no route and changes nothing in the service; without IPC it does nothing.
 */
'use strict';

if (typeof process.send === 'function') {
  process.on('message', (msg) => {
    if (!msg || typeof msg.id !== 'number') return;
    if (msg.type === 'mem') {
      if (msg.gc && typeof globalThis.gc === 'function') {
        globalThis.gc();
        globalThis.gc();
      }
      process.send({ id: msg.id, usage: process.memoryUsage() });
    }
  });
  // The IPC channel must not keep a stopped service alive.
  process.channel?.unref();
}
