// A tiny static server for the web demo (no framework).
//
//   node web-demo/serve.mjs [--port 8080] [--host 127.0.0.1] [--core-dir build/wasm/wasm]
//   (TANDEM_CORE_DIR works too; --port 0 picks a free port.) Prints "tandem web demo: <url>" when listening.
//
// URL layout:  /            web-demo/ (index.html, demo.mjs, media.mjs, demo.css)
//              /wasm/js/    the JS package           /proto/   tandem.proto (parsed by the package at start)
//              /core/       tandem_core.mjs + .wasm  /vendor/protobufjs.mjs  protobufjs bundled as an ES module
//
// Every response carries COOP/COEP so the page and its worker are cross-origin isolated: without that,
// browsers coarsen performance.now() to 100 µs, too blunt for a round trip of tens of microseconds.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    'core-dir': { type: 'string', default: process.env.TANDEM_CORE_DIR ?? join(repo, 'build/wasm/wasm') },
  },
});
const coreDir = resolve(args['core-dir']);
const vendorDir = join(repo, 'build/web-demo/vendor');

const roots = [
  ['/wasm/js/', join(repo, 'wasm/js')],
  ['/proto/', join(repo, 'proto')],
  ['/core/', coreDir],
  ['/vendor/', vendorDir],
  ['/', join(repo, 'web-demo')],
];

const mimeTypes = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.proto': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.ts': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

// protobufjs ships CommonJS; browsers import ES modules, so bundle it once (rebuilt when the package changes).
async function bundleProtobufjs() {
  const out = join(vendorDir, 'protobufjs.mjs');
  const source = join(repo, 'node_modules/protobufjs/package.json');
  const [built, pkg] = await Promise.all([stat(out).catch(() => null), stat(source)]);
  if (built && built.mtimeMs >= pkg.mtimeMs) return;
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(repo, 'node_modules/protobufjs/index.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outfile: out,
    logLevel: 'warning',
  });
}

function resolvePath(urlPath) {
  for (const [prefix, dir] of roots) {
    if (!urlPath.startsWith(prefix)) continue;
    const rest = urlPath.slice(prefix.length) || 'index.html';
    const file = resolve(dir, rest);
    // Refuse anything that escapes its root (../ survives URL parsing as %2e%2e and friends).
    if (file !== dir && !file.startsWith(dir + sep)) return null;
    return file;
  }
  return null;
}

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

async function serve(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...isolation, Allow: 'GET, HEAD' }).end();
    return;
  }
  let path;
  try {
    path = decodeURIComponent(new URL(req.url, 'http://local').pathname);
  } catch {
    res.writeHead(400, isolation).end('bad path');
    return;
  }
  const file = resolvePath(path);
  let body;
  try {
    if (file === null) throw new Error('outside the served roots');
    body = await readFile(file);
  } catch {
    res.writeHead(404, { ...isolation, 'Content-Type': 'text/plain' }).end(`not found: ${path}`);
    return;
  }
  const type = mimeTypes[extname(file)] ?? 'application/octet-stream';
  res.writeHead(200, { ...isolation, 'Content-Type': type, 'Content-Length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

try {
  await stat(join(coreDir, 'tandem_core.mjs'));
} catch {
  console.error(`serve: no tandem_core.mjs in ${coreDir}; build the wasm module (target tandem_module) ` +
    'or pass --core-dir / TANDEM_CORE_DIR');
  process.exit(1);
}
await bundleProtobufjs();

const server = createServer((req, res) => {
  serve(req, res).catch((e) => {
    if (!res.headersSent) res.writeHead(500, isolation);
    res.end(String(e));
  });
});
server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  console.log(`tandem web demo: http://${args.host}:${port}/  (core from ${coreDir})`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
