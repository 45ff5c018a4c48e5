/**
 * The package as an app installs it: `scripts/checkPack.mjs` (also `npm run check:pack`) packs
 * dist/ (built by test/globalSetup.ts), installs the tarball into an empty project that brings its
 * own effect and @effect/platform from the npm registry, and checks one copy of effect, no database
 * driver installed or loaded, the README example typechecked, a layerMemory program run, and the
 * command line. Needs the registry (or a warm npm cache); without it, it fails with one line.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { expect, it } from "vitest"

const script = fileURLToPath(new URL("../scripts/checkPack.mjs", import.meta.url))

it("packs, installs into an empty app with its own effect, one copy of effect, no driver loaded, README example runs", async () => {
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [script], { timeout: 240_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }))
  )
  expect(run.stderr, run.stdout).toBe("")
  expect(run.code).toBe(0)
  expect(run.stdout).toMatch(/^check:pack: passed in /m)
}, 300_000)
