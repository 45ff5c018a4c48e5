/**
 * Store modules are imported when a store's layer (or `make`) is built, never when the package is
 * imported: an app on `Executor.layerMemory` loads no database driver, and needs none installed.
 *
 * @internal
 */
import { Effect } from "effect"
import { StoreUnavailable } from "../../ExecutorError.js"

type Loaded<M> = { readonly ok: true; readonly module: M } | { readonly ok: false; readonly error: unknown }

/** The package an import failed to find (not a missing file of a package that is there). */
const missingPackage = (error: unknown): string | undefined =>
  error instanceof Error && (error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND"
    ? /Cannot find package '([^']+)'/.exec(error.message)?.[1]
    : undefined

/**
 * The module `load` imports. When it cannot be loaded because a package is not installed (the
 * driver `driver`, an optional peer dependency), a `StoreUnavailable` of `location` that says what
 * to install; any other failure to load is a defect.
 */
export const loadStoreModule = <M>(
  load: () => Promise<M>,
  location: string,
  driver: string
): Effect.Effect<M, StoreUnavailable> =>
  Effect.flatMap(
    Effect.promise((): Promise<Loaded<M>> =>
      load().then((module) => ({ ok: true, module }), (error: unknown) => ({ ok: false, error }))
    ),
    (loaded) => {
      if (loaded.ok) return Effect.succeed(loaded.module)
      const missing = missingPackage(loaded.error)
      if (missing === undefined) return Effect.die(loaded.error)
      const reason = missing === driver
        ? `${driver} is not installed (npm install ${driver})`
        : `${missing}, needed by ${driver}, is not installed (npm install ${driver})`
      return Effect.fail(new StoreUnavailable({ path: location, reason }))
    }
  )
