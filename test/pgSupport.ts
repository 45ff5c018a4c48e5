/**
 * PostgreSQL for the tests: 127.0.0.1:5432, user postgres, database test (or EFFECT_EXECUTOR_PG_URL).
 * Without a server the PostgreSQL tests skip with one line saying how to run them; CI sets
 * EFFECT_EXECUTOR_REQUIRE_PG=1 so that they fail instead.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { afterAll } from "vitest"

export const pgUrl = process.env.EFFECT_EXECUTOR_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"

export const pgClientLayer = (options: { readonly maxConnections?: number } = {}) =>
  PgClient.layer({
    url: Redacted.make(pgUrl),
    connectTimeout: "3 seconds",
    maxConnections: options.maxConnections ?? 10
  })

const probe = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
  Effect.provide(pgClientLayer({ maxConnections: 1 })),
  Effect.timeout("5 seconds"),
  Effect.as(true),
  Effect.catchAllCause(() => Effect.succeed(false))
)

export const pgAvailable: boolean = await Effect.runPromise(probe)

if (!pgAvailable) {
  const how = `PostgreSQL is not reachable at ${pgUrl}; start it (user postgres, trust auth, database test) ` +
    `or set EFFECT_EXECUTOR_PG_URL, to run the PostgreSQL tests`
  if (process.env.EFFECT_EXECUTOR_REQUIRE_PG === "1") throw new Error(how)
  console.warn(`PostgreSQL tests skipped: ${how}.`)
}

/** A schema name of its own for each test: `t_<random>`. */
export const freshSchema = () => `t_${randomBytes(6).toString("hex")}`

/** Drops the schemas the tests made. */
export const dropSchemas = (schemas: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.forEach(schemas, (schema) => sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`, { discard: true })
  ).pipe(Effect.provide(pgClientLayer({ maxConnections: 1 })), Effect.orDie)


/** A maker of fresh schema names (`freshSchema`), each dropped after the calling file's tests. */
export const schemasDroppedAfterAll = (): () => string => {
  const schemas: Array<string> = []
  afterAll(() => pgAvailable && schemas.length > 0 ? Effect.runPromise(dropSchemas(schemas)) : undefined)
  return () => {
    const schema = freshSchema()
    schemas.push(schema)
    return schema
  }
}
