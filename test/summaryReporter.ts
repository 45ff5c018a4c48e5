/**
 * Ends a run with one plain line, `N passed, N failed, N skipped`, that CI and people can read
 * without knowing vitest's own layout.
 */
import { writeSync } from "node:fs"
import type { Reporter, TestModule } from "vitest/node"

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const module of modules) {
      const failedBefore = failed
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === "passed") passed++
        else if (state === "failed") failed++
        else skipped++
      }
      // a file that failed outside its tests (an import, a beforeAll) counts as one failure
      if (module.state() === "failed" && failed === failedBefore) failed++
    }
    // printed when the process exits, so that it is the very last line, after vitest's summary
    const line = `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`
    process.once("exit", () => writeSync(1, line))
  }
}
