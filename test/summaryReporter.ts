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
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === "passed") passed++
        else if (state === "failed") failed++
        else skipped++
      }
      if (module.state() === "failed" && module.children.size === 0) failed++
    }
    // printed when the process exits, so that it is the very last line, after vitest's summary
    const line = `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`
    process.once("exit", () => writeSync(1, line))
  }
}
