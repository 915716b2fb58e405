/**
 * Jest runs each test file in its own V8 realm, while Node's built-in fetch builds its objects
 * in the main one. node:assert's deepStrictEqual compares prototypes, so
 * `assert.deepEqual(await res.json(), { status: 'ok' })` would fail on identical values (under
 * node's runner there was one realm). Response bodies are therefore parsed here, in the test
 * file's realm. Values from other built-ins (fs.readdirSync, querystring.parse, ...) have the
 * same trait: compare a copy made in the test (`[...list]`, `{ ...obj }`).
 */
const mainFetch = globalThis.fetch;

globalThis.fetch = async function fetchInTestRealm(...args: Parameters<typeof fetch>) {
  const res = await mainFetch(...args);
  Object.defineProperty(res, 'json', {
    configurable: true,
    value: async () => JSON.parse(await res.text()) as unknown,
  });
  return res;
};
