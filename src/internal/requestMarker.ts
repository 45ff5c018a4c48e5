import { FiberRef } from "effect"
import { globalValue } from "effect/GlobalValue"

/**
 * Set to `true` by `AfterResponse.middleware` on the fiber that handles a request. Submits that
 * see it hold their task until the response is written. A FiberRef, not a service: the
 * middleware sets it once per request without allocating a Context.
 *
 * @internal
 */
export const withinRequest: FiberRef.FiberRef<boolean> = globalValue(
  Symbol.for("effect-executor/AfterResponse/withinRequest"),
  () => FiberRef.unsafeMake(false)
)
