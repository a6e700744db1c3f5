import { defineConfig } from "vitest/config";

// The webview is served by Tauri from ui/dist under a strict CSP (scripts and styles
// only from the bundle): no inline scripts or styles are produced, CSS becomes a file.
export default defineConfig({
  clearScreen: false,
  base: "./",
  server: { port: 5173, strictPort: true },
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: ["es2021", "chrome100", "safari15"],
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
