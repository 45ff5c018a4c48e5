import { defineConfig } from "vitest/config"

export default defineConfig({
  // "effect-executor" imported by the examples resolves to src/, not to a possibly stale dist/
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    // dist/ built when older than src/: the command line (test/cli.test.ts) and the packed
    // package (test/pack.test.ts) are tested as users get them
    globalSetup: ["./test/globalSetup.ts"],
    reporters: ["default", "./test/summaryReporter.ts"],
    typecheck: {
      include: ["test/**/*.test-d.ts"],
      tsconfig: "./tsconfig.json"
    },
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
