#!/usr/bin/env node
// The effect-executor command line: runs the compiled src/internal/cli.ts from dist/ (built by
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

const load = (module) =>
  import(module).catch((error) =>
    fail(error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("/dist/internal/")
      ? new Error("dist/ is missing: run `npm run build` in the effect-executor package")
      : error)
  )

const argv = process.argv.slice(2)
// Help is a constant: answered without loading Effect and the commands (0.1 s instead of 0.6 s).
const { asksForHelp, usage } = await load("../dist/internal/cliHelp.js")
if (asksForHelp(argv)) {
  process.stdout.write(usage)
} else {
  const { main } = await load("../dist/internal/cli.js")
  try {
    process.exitCode = await main(argv)
  } catch (error) {
    fail(error)
  }
}
