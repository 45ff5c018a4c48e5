import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { afterAll } from "vitest"
import { ExecutorError, PgStore } from "../src/index.js"
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

  it.effect("a tasks table of another application in the schema is a typed StoreUnavailable naming schema and table", () =>
    Effect.gen(function*() {
      const schema = freshSchema()
      schemas.push(schema)
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE SCHEMA ${sql(schema)}`
      yield* sql`CREATE TABLE ${sql(`${schema}.tasks`)} (id SERIAL PRIMARY KEY, title TEXT)`
      const exit = yield* Effect.exit(Layer.build(PgStore.layer({ schema })).pipe(Effect.scoped))
      expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause)).toBe(true)
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      expect(error).toBeInstanceOf(ExecutorError.StoreUnavailable)
      expect(error?.message).toContain(schema)
      expect(error?.message).toContain(`${schema}.tasks`)
    }).pipe(Effect.provide(pgClientLayer({ maxConnections: 2 }))))
})
