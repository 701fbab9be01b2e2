/// <reference types="vitest" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The console lives in src/frontend and is built into dist/console, where the API
// (AUTOPACK_CONSOLE_DIR) and Dockerfile.frontend pick it up.
export default defineConfig({
  root: "src/frontend",
  base: "./",
  plugins: [react()],
  build: {
    outDir: "../../dist/console",
    emptyOutDir: true,
    // Production CSP has no unsafe-inline: nothing may be inlined into index.html.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    host: "127.0.0.1",
    port: 3000,
    strictPort: true,
    proxy: { "/api": { target: "http://127.0.0.1:8000", changeOrigin: false } },
  },
  test: {
    environment: "jsdom",
    root: "src/frontend",
    include: ["test/**/*.test.tsx", "test/**/*.test.ts"],
    setupFiles: ["./test/setup.ts"],
  },
});
