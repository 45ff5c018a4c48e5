/**
 * Before any test: builds dist/ when it is missing or older than src/ (test/cli.test.ts runs the
 * command line as users do, from dist/, and test/pack.test.ts packs dist/). Up to date, it costs
 * a walk of src/; otherwise what `npm run build` does (about 10 s on 2 cores).
 */
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, rmSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))

const sources = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? sources(path) : entry.name.endsWith(".ts") ? [path] : []
  })

/** Why dist/ must be built again, or `undefined` when every source's output is newer than it. */
const staleness = (): string | undefined => {
  const configs = ["tsconfig.json", "tsconfig.build.json"].map((name) => statSync(join(root, name)).mtimeMs)
  for (const source of sources(join(root, "src"))) {
    const output = join(root, "dist", relative(join(root, "src"), source).replace(/\.ts$/, ".js"))
    if (!existsSync(output)) return `${relative(root, output)} is missing`
    const built = statSync(output).mtimeMs
    if (built < statSync(source).mtimeMs || configs.some((changed) => built < changed)) {
      return `${relative(root, output)} is older than its source`
    }
  }
  return undefined
}

export default function setup(): void {
  const reason = staleness()
  if (reason === undefined) return
  process.stdout.write(`building dist/ (${reason})\n`)
  rmSync(join(root, "dist"), { recursive: true, force: true })
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit",
    timeout: 300_000
  })
}
