#!/usr/bin/env node
// The effect-executor command line: runs the compiled src/internal/cli/ from dist/ (built by
// `npm run build`, which `npm install`/`npm ci` of a clone and `npm pack` run). Run `effect-executor --help`.

// `effect-executor list | head` closes stdout early: that is no reason for a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => process.exit(error.code === "EPIPE" ? process.exitCode ?? 0 : 1))
}

const fail = (error) => {
  const message = String(error?.message ?? error).split("\n")[0]
  process.stderr.write(`effect-executor: ${message}\n`)
  process.exit(1)
}

const { main } = await import("../dist/internal/cli/main.js").catch((error) =>
  fail(error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("/dist/internal/")
    ? new Error("dist/ is missing: run `npm run build` in the effect-executor package")
    : error)
)
try {
  process.exitCode = await main(process.argv.slice(2))
} catch (error) {
  fail(error)
}
