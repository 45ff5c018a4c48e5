import { describe } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { afterAll } from "vitest"
import { PgStore } from "../src/index.js"
import { dropSchemas, freshSchema, pgAvailable, pgClientLayer } from "./pgSupport.js"
import { storeConformance } from "./storeConformance.js"

const schemas: Array<string> = []
afterAll(() => pgAvailable ? Effect.runPromise(dropSchemas(schemas)) : undefined)

describe.runIf(pgAvailable)("PostgreSQL", () => {
  storeConformance("PostgreSQL", () => {
    const schema = freshSchema()
    schemas.push(schema)
    return PgStore.layer({ schema }).pipe(Layer.provide(pgClientLayer({ maxConnections: 2 })))
  })
})
