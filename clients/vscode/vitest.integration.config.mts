import { defineConfig } from "vitest/config";

/** Integration tests: a real `edgecoderd` started by the tests, one at a time. */
export default defineConfig({
  test: {
    include: ["test/integration/**/*.test.ts"],
    watch: false,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
