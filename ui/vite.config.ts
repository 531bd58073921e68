/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

// The Tauri shell loads ui/dist (tauri.conf.json `frontendDist`) and, in
// development, this dev server on a fixed port (`devUrl`).
export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  clearScreen: false,
  // `devUrl` in tauri.conf.json points here.
  server: {
    port: 1420,
    strictPort: true,
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Tauri's CSP forbids inline scripts and data: URLs it was not told about.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["src/test/setup.ts"],
    restoreMocks: true,
  },
});
