import { defineConfig } from "vitest/config";

/** The sidebar in real headless Chromium (Debian's /usr/bin/chromium through playwright-core). */
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    watch: false,
    pool: "forks",
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
