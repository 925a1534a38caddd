// Loads the Emscripten module (tandem_core.mjs + tandem_core.wasm) in a browser worker, a node worker thread
// or node's main thread. The worker uses it; so does the in-thread benchmark, which calls Embind directly.

export const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

// coreUrl: absolute URL (http(s): or file:) of tandem_core.mjs. Returns the ready Embind module.
export async function loadCore(coreUrl) {
  const url = new URL(coreUrl);
  // The .wasm sits beside the .mjs. Passing locateFile keeps the factory from guessing from its own URL.
  const overrides = { locateFile: (path) => new URL(path, url).href };
  if (isNode) {
    const [{ readFile }, { createRequire }, { fileURLToPath }, path] = await Promise.all([
      import('node:fs/promises'), import('node:module'), import('node:url'), import('node:path'),
    ]);
    // Emscripten 3.1.6 emits ES6 output that still reads `__dirname` and `require` when it detects node,
    // and ES modules have neither; give it both, pointing at the module's own directory.
    globalThis.__dirname ??= path.dirname(fileURLToPath(url));
    globalThis.require ??= createRequire(url);
    // Node 20's fetch() cannot read file: URLs, and the factory would try it; hand it the bytes instead.
    overrides.wasmBinary = await readFile(new URL(overrides.locateFile('tandem_core.wasm')));
  }
  const { default: createTandemModule } = await import(url.href);
  return createTandemModule(overrides);
}
