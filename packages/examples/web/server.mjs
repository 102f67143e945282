// Builds the browser page (esbuild: one ESM bundle of main.ts and the packages it imports, for the
// browser platform, so a Node built-in anywhere in the import graph fails the build) and serves
// this folder from 127.0.0.1 with the page's Content-Security-Policy.
//   node packages/examples/web/server.mjs [port]     (then open the printed address)
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const webRoot = fileURLToPath(new URL('.', import.meta.url));

/** The policy normgrad needs: new Function for the JavaScript kernels, WebAssembly compilation. */
export const contentSecurityPolicy = "default-src 'none'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'; style-src 'self'";

/** Bundles main.ts into dist/main.js; returns the bundle's size in bytes. */
export async function buildPage() {
  const result = await build({
    entryPoints: [join(webRoot, 'main.ts')],
    outfile: join(webRoot, 'dist', 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  return result.metafile.outputs[Object.keys(result.metafile.outputs).find((file) => file.endsWith('main.js'))].bytes;
}

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };

/** Serves webRoot on 127.0.0.1:port (0: any free port); resolves to { server, url }. */
export function servePage(port = 0) {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://127.0.0.1').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(webRoot, path.endsWith('/') ? `${path}index.html` : path);
    try {
      if (!file.startsWith(webRoot)) throw new Error('outside the page');
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'content-security-policy': contentSecurityPolicy });
      response.end(body);
    } catch {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('not found');
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/` })));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const bytes = await buildPage();
  const { url } = await servePage(Number(process.argv[2] ?? 8080));
  console.log(`bundle dist/main.js: ${(bytes / 1024).toFixed(0)} KiB; serving ${url}`);
}
