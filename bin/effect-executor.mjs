#!/usr/bin/env node
// The effect-executor command line. The package ships TypeScript sources, so this loads
// src/internal/cli.ts through tsx (without the caller's tsconfig). Run `effect-executor --help`.

// `effect-executor list | head` closes stdout early: that is no reason for a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => process.exit(error.code === "EPIPE" ? process.exitCode ?? 0 : 1))
}

const fail = (error) => {
  const message = String(error?.message ?? error).split("\n")[0]
  process.stderr.write(`effect-executor: ${message}\n`)
  process.exit(1)
}

let main
try {
  // The JavaScript dependencies load before tsx's hooks are in place: their hundreds of modules
  // then skip the hooks, which starts the command about a third faster. (Any left out still load.)
  await Promise.all(["effect", "@effect/sql", "@effect/sql-pg", "@effect/sql-sqlite-node"].map((name) => import(name)))
  const { register } = await import("tsx/esm/api")
  register({ tsconfig: false })
  ;({ main } = await import("../src/internal/cli.ts"))
} catch (error) {
  fail(error?.code === "ERR_MODULE_NOT_FOUND" && /tsx/.test(String(error.message))
    ? new Error("the command line needs tsx: npm install tsx")
    : error)
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (error) {
  fail(error)
}
