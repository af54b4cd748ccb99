import { defineConfig } from 'vitest/config';

// The Python gateway serves dist/index.html at `/` and the bundle under `/assets/`.
// `npm run dev` proxies the API and the live socket to a gateway on 127.0.0.1:8000.
const gateway = process.env.SEXTANT_GATEWAY ?? 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    proxy: {
      '/api': { target: gateway, changeOrigin: true },
      '/ws': { target: gateway.replace(/^http/, 'ws'), ws: true, changeOrigin: true },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
