// The web app's build (`vite build web`, part of `npm run build`) and dev server (`npm run dev:web`).
// The build lands in dist/web, which the api node serves (src/gateway/web.ts); hashed files go to
// dist/web/assets with a .br and .gz copy beside each, so the server sends them compressed
// without compressing per request.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/** Where `npm run dev:web` sends API and WebSocket calls: a running Gavel node. */
const target = process.env.GAVEL_URL ?? 'http://127.0.0.1:8080';
const COMPRESSIBLE = /\.(js|css|svg|json|txt)$/;
const COMPRESS_MIN_BYTES = 1024;

/** Writes foo.js.br and foo.js.gz beside every compressible asset of the build. */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'gavel-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = join(config.root, config.build.outDir);
    },
    writeBundle() {
      const assets = join(outDir, 'assets');
      for (const name of readdirSync(assets)) {
        const path = join(assets, name);
        if (!COMPRESSIBLE.test(name) || statSync(path).size < COMPRESS_MIN_BYTES) continue;
        const bytes = readFileSync(path);
        writeFileSync(`${path}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
        writeFileSync(`${path}.gz`, gzipSync(bytes, { level: 9 }));
      }
    },
  };
}

const proxied = ['/api', '/sandbox', '/graphql', '/openapi.json', '/docs', '/up', '/ready', '/metrics'];

export default defineConfig({
  plugins: [react(), precompress()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // One chunk for React and one for the app keep the first load to a few requests.
    rollupOptions: { output: { manualChunks: { react: ['react', 'react-dom', 'react-dom/client'] } } },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      ...Object.fromEntries(proxied.map((path) => [path, { target, changeOrigin: false }])),
      '/ws': { target, ws: true },
    },
  },
  preview: { host: '127.0.0.1' },
});
