#!/usr/bin/env node
// `npm run check:pack` (and test/pack.test.ts): the package as an app gets it. Packs dist/ (build
// it first: `npm run check:pack` does), installs the tarball into an empty project that brings its
// own effect, @effect/platform, @effect/platform-node and @effect/sql from the npm registry (a warm
// npm cache is enough), and checks that:
//   - the project has exactly one copy of `effect` (and of `@effect/platform`);
//   - the optional peers (the database drivers) are not installed, and importing the package and
//     each public module loads none of them; internal files are not exported;
//   - the README's example typechecks with tsc, and a small program on Executor.layerMemory runs
//     (submit, await, prints OK); Executor.layerSqlite fails with a typed error naming the driver;
//   - the command line answers --help from dist/.
// Prints one line per step with its time, and one line saying what failed. Cleans up its folder
// (CHECK_PACK_KEEP=1 keeps it).
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const drivers = ["@effect/sql-sqlite-node", "@effect/sql-pg", "pg", "better-sqlite3"]
/** What an app on Executor.layerMemory installs besides this package (README, "Install"). */
const appPackages = ["effect", "@effect/platform", "@effect/platform-node", "@effect/sql"]
const tools = ["typescript", "@types/node"]
const NPM_TIMEOUT = 150_000

class CheckFailed extends Error {}

const started = performance.now()
const seconds = (since) => `${((performance.now() - since) / 1000).toFixed(1)} s`
const step = async (name, body) => {
  const at = performance.now()
  const detail = await body()
  process.stdout.write(`check:pack: ${name}${detail ? `: ${detail}` : ""} (${seconds(at)})\n`)
}

/** The caller's npm settings (registry, cache, certificates, proxies), none of its run's state. */
const npmEnv = () => {
  const keep = /^npm_config_(registry|cache|userconfig|globalconfig|cafile|ca|cert|key|strict_ssl|proxy|https_proxy|noproxy|@.*:registry)$/i
  const env = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) || keep.test(key)) env[key] = value
  }
  return env
}

const run = (command, args, { cwd, timeout = 60_000, env = npmEnv() }) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new CheckFailed(`${command} ${args.join(" ")} did not finish within ${timeout / 1000} s`))
    }, timeout)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(new CheckFailed(`cannot run ${command}: ${error.message}`))
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

const networkError = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ERR_SOCKET_TIMEOUT|ENOTCACHED|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)\b|network request .* failed|request to \S+ failed/i

const npmInstall = async (cwd, specs) => {
  const result = await run("npm", [
    "install",
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    "--ignore-scripts",
    "--loglevel=error",
    // never the default five minutes per request and retries with back-off when the registry is away
    "--fetch-timeout=30000",
    "--fetch-retries=1",
    "--fetch-retry-mintimeout=1000",
    "--fetch-retry-maxtimeout=5000",
    ...specs
  ], { cwd, timeout: NPM_TIMEOUT })
  if (result.code === 0) return
  const output = `${result.stderr}\n${result.stdout}`
  const registry = (await run("npm", ["config", "get", "registry"], { cwd })).stdout.trim() || "the npm registry"
  const what = specs.filter((spec) => !spec.endsWith(".tgz")).join(" ") || "the tarball's peers"
  const network = output.match(networkError)
  if (network) {
    throw new CheckFailed(`cannot reach ${registry} (${network[0]}) to install ${what}; the check needs the registry or a warm npm cache`)
  }
  // the most telling line: the request that failed (a 404 from a proxy in front of an unknown host), else the code
  const lines = output.split("\n").map((line) => line.replace(/^npm (error|ERR!)\s*/, "").trim())
  const told = lines.find((line) => /\b(GET|PUT) https?:\/\//.test(line)) ?? lines.find((line) => /^code /.test(line)) ?? lines.find(Boolean) ?? ""
  throw new CheckFailed(`cannot install ${what} from ${registry} (npm exit ${result.code}): ${told}`)
}

/** Every installed copy of `name` under `dir`/node_modules, nested ones included. */
const copiesOf = (dir, name) => {
  const found = []
  const walk = (modules) => {
    if (!existsSync(modules)) return
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory() && !entry.isSymbolicLink()) continue
      const names = entry.name.startsWith("@")
        ? readdirSync(join(modules, entry.name)).map((inner) => `${entry.name}/${inner}`)
        : [entry.name]
      for (const pkg of names) {
        const path = join(modules, pkg)
        const json = join(path, "package.json")
        if (pkg === name && existsSync(json)) found.push(`${path} (${JSON.parse(readFileSync(json, "utf8")).version})`)
        walk(join(path, "node_modules"))
      }
    }
  }
  walk(join(dir, "node_modules"))
  return found
}

/** The README's "## Example": the first ts block after that heading. */
const readmeExample = () => {
  const readme = readFileSync(join(root, "README.md"), "utf8")
  const section = readme.slice(readme.indexOf("\n## Example"))
  const match = section.match(/```ts\n([\s\S]*?)```/)
  if (!section.startsWith("\n## Example") || !match) throw new CheckFailed("README.md has no ts block under ## Example")
  return match[1]
}

const hooks = `import { appendFileSync } from "node:fs"
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  appendFileSync(process.env.LOADED_LOG, result.url + "\\n")
  return result
}
`

const importAll = (subpaths) => `import { register } from "node:module"
register("./hooks.mjs", import.meta.url)
const modules = ${JSON.stringify(subpaths)}
for (const name of modules) {
  const module = await import(name)
  if (Object.keys(module).length === 0) throw new Error(name + " exports nothing")
}
for (const name of ["effect-executor/internal/cli/main.js", "effect-executor/dist/index.js", "effect-executor/src/index.ts"]) {
  const error = await import(name).then(() => undefined, (error) => error)
  if (error?.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw new Error(name + " is importable: only public modules may be exported")
}
console.log("imported " + modules.length + " modules")
`

const program = `import { Cause, Effect, Exit, Layer, Option, Schema } from "effect"
import { Executor, ExecutorError, Task } from "effect-executor"

const Greet = Task.make("Greet", {
  payload: Schema.Struct({ name: Schema.String }),
  success: Schema.String,
  run: ({ name }) => Effect.succeed("hello " + name)
})

const submitAndAwait = Effect.gen(function*() {
  const greeting = yield* Executor.submit(Greet.make({ name: "pack" }))
  const plain = yield* Executor.submit(Effect.succeed(42), { name: "Answer" })
  const results: readonly [string, number] = [yield* Executor.await(greeting), yield* Executor.await(plain)]
  const status = yield* Executor.status(greeting)
  if (results[0] !== "hello pack" || results[1] !== 42 || status._tag !== "Succeeded") {
    return yield* Effect.die(new Error("unexpected results " + JSON.stringify(results) + " " + status._tag))
  }
})

// without @effect/sql-sqlite-node installed, a SQLite layer fails with a typed error saying so
const sqliteWithoutDriver = Effect.scoped(Layer.build(Executor.layerSqlite({ filename: "tasks.db", tasks: [Greet] }))).pipe(
  Effect.exit,
  Effect.flatMap((exit) => {
    const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
    return Option.isSome(failure) && failure.value instanceof ExecutorError.StoreUnavailable &&
        failure.value.message.includes("npm install @effect/sql-sqlite-node")
      ? Effect.void
      : Effect.die(new Error("layerSqlite without its driver: " + (Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded")))
  })
)

Effect.runPromise(Effect.gen(function*() {
  yield* Effect.provide(submitAndAwait, Executor.layerMemory({ concurrency: 2 }))
  yield* sqliteWithoutDriver
})).then(() => console.log("OK"), (error) => {
  console.error(error)
  process.exit(1)
})
`

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2022"],
    types: ["node"],
    strict: true,
    skipLibCheck: true,
    outDir: "out"
  },
  include: ["main.ts", "readme.ts"]
}

const main = async () => {
  const dist = join(root, "dist")
  if (!existsSync(join(dist, "index.js")) || !existsSync(join(dist, "internal", "cli", "main.js"))) {
    throw new CheckFailed("dist/ is not built: run `npm run build` first (`npm run check:pack` does)")
  }
  const work = mkdtempSync(join(tmpdir(), "effect-executor-pack-"))
  // CHECK_PACK_KEEP=1 keeps the project for a look (its path is printed)
  const cleanUp = () =>
    process.env.CHECK_PACK_KEEP ? process.stdout.write(`check:pack: kept ${work}\n`) : rmSync(work, { recursive: true, force: true })
  const onSignal = () => {
    cleanUp()
    process.exit(130)
  }
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal)
  try {
    const app = join(work, "app")
    let tarball = ""

    await step("npm pack", async () => {
      const result = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: root })
      if (result.code !== 0) throw new CheckFailed(`npm pack failed: ${result.stderr.trim().split("\n")[0]}`)
      const [packed] = JSON.parse(result.stdout)
      tarball = join(work, packed.filename)
      const files = packed.files.map((file) => file.path)
      for (const needed of ["dist/index.js", "dist/index.d.ts", "dist/internal/cli/main.js", "bin/effect-executor.mjs", "README.md"]) {
        if (!files.includes(needed)) throw new CheckFailed(`the tarball lacks ${needed}`)
      }
      const stray = files.filter((file) => /^(test|bench|examples|scripts|\.ci)\//.test(file) || file.endsWith(".db"))
      if (stray.length > 0) throw new CheckFailed(`the tarball holds files that are not the package's: ${stray.slice(0, 5).join(", ")}`)
      return `${packed.filename}, ${files.length} files, ${(packed.size / 1024).toFixed(0)} kB`
    })

    await step("the app's own packages from the registry", async () => {
      mkdirSync(app)
      writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }, null, 2))
      const specs = [...appPackages, ...tools].map((name) => {
        const range = manifest.devDependencies[name]
        if (range === undefined) throw new CheckFailed(`package.json has no devDependency ${name}`)
        return `${name}@${range}`
      })
      await npmInstall(app, specs)
      return specs.join(" ")
    })

    await step("install the tarball", async () => {
      await npmInstall(app, [tarball])
    })

    await step("one copy of effect", async () => {
      for (const name of ["effect", "@effect/platform"]) {
        const copies = copiesOf(app, name)
        if (copies.length !== 1) {
          throw new CheckFailed(`${copies.length} copies of ${name} are installed: ${copies.join(", ") || "none"}`)
        }
      }
      if (existsSync(join(app, "node_modules", "effect-executor", "node_modules"))) {
        throw new CheckFailed("effect-executor got a node_modules of its own: a dependency is not a peer")
      }
      return copiesOf(app, "effect")[0].replace(`${app}/`, "")
    })

    await step("no database driver installed or loaded", async () => {
      const installed = drivers.filter((name) => copiesOf(app, name).length > 0)
      if (installed.length > 0) throw new CheckFailed(`optional peers were installed: ${installed.join(", ")}`)
      writeFileSync(join(app, "hooks.mjs"), hooks)
      const subpaths = ["effect-executor", ...Object.keys(manifest.exports).filter((key) => key !== ".").map((key) => `effect-executor${key.slice(1)}`)]
      writeFileSync(join(app, "imports.mjs"), importAll(subpaths))
      const log = join(app, "loaded.log")
      const result = await run(process.execPath, ["imports.mjs"], { cwd: app, env: { ...npmEnv(), LOADED_LOG: log } })
      if (result.code !== 0) throw new CheckFailed(`importing the package failed: ${result.stderr.trim().split("\n").find((line) => /Error/.test(line)) ?? result.stderr.trim()}`)
      const loaded = [...new Set(readFileSync(log, "utf8").split("\n").filter(Boolean))]
      const packages = new Set(loaded.flatMap((url) => {
        const match = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//)
        return match ? [match[1]] : []
      }))
      const loadedDrivers = drivers.filter((name) => packages.has(name))
      if (loadedDrivers.length > 0) throw new CheckFailed(`importing effect-executor loads ${loadedDrivers.join(", ")}`)
      return `${subpaths.length} modules imported; ${loaded.length} files of ${[...packages].sort().join(", ")}`
    })

    await step("README example typechecks, a layerMemory program runs", async () => {
      writeFileSync(join(app, "readme.ts"), readmeExample())
      writeFileSync(join(app, "main.ts"), program)
      writeFileSync(join(app, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))
      const tsc = await run(process.execPath, [join(app, "node_modules", "typescript", "bin", "tsc"), "-p", "."], { cwd: app, timeout: 120_000 })
      if (tsc.code !== 0) throw new CheckFailed(`tsc: ${(tsc.stdout + tsc.stderr).trim().split("\n").slice(0, 3).join(" | ")}`)
      const result = await run(process.execPath, [join("out", "main.js")], { cwd: app })
      if (result.code !== 0 || result.stdout.trim().split("\n").at(-1) !== "OK") {
        throw new CheckFailed(`the layerMemory program failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().split("\n").slice(0, 3).join(" | ")}`)
      }
      return "OK"
    })

    await step("the command line from dist/", async () => {
      const bin = join(app, "node_modules", ".bin", "effect-executor")
      const at = performance.now()
      const help = await run(bin, ["--help"], { cwd: app })
      const helpTime = seconds(at)
      if (help.code !== 0 || !help.stdout.includes("$ effect-executor")) {
        throw new CheckFailed(`effect-executor --help: exit ${help.code}: ${help.stderr.trim()}`)
      }
      const pg = await run(bin, ["list", "--pg", "postgres://127.0.0.1:9/none"], { cwd: app })
      if (pg.code !== 1 || !/npm install @effect\/sql-pg/.test(pg.stderr) || pg.stderr.trim().split("\n").length !== 1) {
        throw new CheckFailed(`effect-executor list --pg without @effect/sql-pg: exit ${pg.code}: ${pg.stderr.trim()}`)
      }
      return `--help in ${helpTime}; --pg without its driver: ${pg.stderr.trim()}`
    })
  } finally {
    cleanUp()
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal)
  }
}

try {
  await main()
  process.stdout.write(`check:pack: passed in ${seconds(started)}\n`)
} catch (error) {
  const message = error instanceof CheckFailed ? error.message : error?.stack ?? String(error)
  process.stderr.write(`check:pack: ${message.split("\n")[0]} (after ${seconds(started)})\n`)
  process.exitCode = 1
}
