/** Stops the Redis that global-setup.ts started, if it started one. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__WST_REDIS__?.stop();
}
