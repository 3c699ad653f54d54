import { defineConfig } from "vitest/config";

/** Unit tests: vscode-free modules only, no daemon, no network. */
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    watch: false,
    pool: "forks",
    maxWorkers: 1,
  },
});
