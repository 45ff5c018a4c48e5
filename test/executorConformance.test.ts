import { describe } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { Executor } from "../src/index.js"
import { executorConformance, slowLoops } from "./executorConformance.js"
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

executorConformance("layerMemory", ({ slowLoops: _slow, tasks: _tasks, ...options }) => Executor.layerMemory(options))

const timing = (slow: boolean | undefined) => slow ? slowLoops : durable

executorConformance(
  "layerSqlite",
  ({ slowLoops: slow, ...options }) => Executor.layerSqlite({ filename: freshFile(), ...timing(slow), ...options })
)

describe.runIf(pgAvailable)("PostgreSQL", () => {
  executorConformance(
    "layerPg",
    ({ slowLoops: slow, ...options }) =>
      Executor.layerPg({ schema: schemaForTest(), ...timing(slow), ...options }).pipe(Layer.provide(pgClientLayer()))
  )
})
