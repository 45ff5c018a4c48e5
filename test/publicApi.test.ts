import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"

/**
 * The library uses Effect's public API only (DESIGN.md, "Second edition", principle 1): no
 * hand-built or mutated instructions, no writes to a fiber's scheduler, no `setFiberRefs` on
 * another fiber, no private fields, no generator plumbing from `effect/Utils`.
 */
const forbidden: ReadonlyArray<{ readonly name: string; readonly pattern: RegExp }> = [
  { name: "effect_instruction", pattern: /effect_instruction/ },
  { name: "._op", pattern: /\._op\b/ },
  { name: "pushStack", pattern: /pushStack/ },
  { name: "setFiberRefs( not through Effect.setFiberRefs(", pattern: /(?<!Effect\.)\bsetFiberRefs\(/ },
  { name: "_fiberRefs", pattern: /_fiberRefs/ },
  { name: "an assignment to currentScheduler", pattern: /\bcurrentScheduler\s*(?:=(?!=)|\+=|\|\|=|\?\?=)/ },
  { name: "an import from effect/Utils", pattern: /from\s+["']effect\/Utils["']|import\(\s*["']effect\/Utils["']\s*\)/ },
  { name: "unsafeMap", pattern: /unsafeMap/ }
]

const root = join(import.meta.dirname, "..")

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return /\.(?:ts|mts|cts|js|mjs)$/.test(entry.name) ? [path] : []
  })

/** Every use of a forbidden name in `text`, as `line: name`. */
const violationsIn = (text: string): Array<string> =>
  text.split("\n").flatMap((line, i) =>
    forbidden
      .filter(({ pattern }) => pattern.test(line))
      .map(({ name }) => `${i + 1}: ${name}`)
  )

describe("public Effect API only", () => {
  it("no file under src/ uses Effect's internals", () => {
    const found: Array<string> = []
    for (const file of sourceFiles(join(root, "src"))) {
      const name = relative(root, file).split("\\").join("/")
      for (const hit of violationsIn(readFileSync(file, "utf8"))) {
        found.push(`${name}:${hit}`)
      }
    }
    expect(found).toEqual([])
  })

  it("the check finds each of the forbidden uses", () => {
    const samples = [
      "const op = instruction.effect_instruction_i0",
      "if (frame._op === \"Async\") {}",
      "fiber.pushStack(frame)",
      "fiber.setFiberRefs(refs)",
      "const refs = fiber._fiberRefs",
      "fiber.currentScheduler = scheduler",
      "import { SingleShotGen } from \"effect/Utils\"",
      "context.unsafeMap.get(key)"
    ]
    for (const sample of samples) expect(violationsIn(sample)).toHaveLength(1)
    // the public forms are fine
    for (
      const sample of [
        "Effect.setFiberRefs(refs)",
        "fiber.currentScheduler === scheduler",
        "const scheduler = fiber.currentScheduler",
        "Context.getOption(context, Tag)"
      ]
    ) expect(violationsIn(sample)).toEqual([])
  })
})
