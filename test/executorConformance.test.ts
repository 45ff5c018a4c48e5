import { describe } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { Executor } from "../src/index.js"
import { executorConformance } from "./executorConformance.js"
import { dropSchemas, freshSchema, pgAvailable, pgClientLayer } from "./pgSupport.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-conformance-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `tasks-${++files}.db`)

const schemas: Array<string> = []
afterAll(() => pgAvailable && schemas.length > 0 ? Effect.runPromise(dropSchemas(schemas)) : undefined)
const schemaForTest = () => {
  const schema = freshSchema()
  schemas.push(schema)
  return schema
}

const durable = { leaseDuration: "2 seconds", pollInterval: "50 millis" } as const

executorConformance("layerMemory", ({ tasks: _tasks, ...options }) => Executor.layerMemory(options))

executorConformance("layerSqlite", (options) => Executor.layerSqlite({ filename: freshFile(), ...durable, ...options }))

describe.runIf(pgAvailable)("PostgreSQL", () => {
  executorConformance(
    "layerPg",
    (options) =>
      Executor.layerPg({ schema: schemaForTest(), ...durable, ...options }).pipe(Layer.provide(pgClientLayer()))
  )
})
