import type { HttpServerError, HttpServerRequest } from "@effect/platform"
import { Effect, Stream } from "effect"

/** The largest request body `StatusApi` and `Dashboard` accept: 64 KiB. */
export const maxBodyBytes = 64 * 1024

/**
 * What a `content-length` header says of a request's body, without reading it: `"too-large"` over
 * `maxBodyBytes`, `"invalid"` when the header is not a length, else `"ok"` (also without one).
 * Any server's request: the adapters' status routes give their framework's header.
 */
export const declaredLength = (length: string | undefined): "ok" | "too-large" | "invalid" => {
  if (length === undefined) return "ok"
  if (!/^\d{1,20}$/.test(length.trim())) return "invalid"
  return Number(length) > maxBodyBytes ? "too-large" : "ok"
}

/** `declaredLength` of an `@effect/platform` request. */
export const declaredBody = (request: HttpServerRequest.HttpServerRequest): "ok" | "too-large" | "invalid" =>
  declaredLength(request.headers["content-length"])

/**
 * The body as text, keeping at most `maxBodyBytes` of it: a longer body (one sent without a
 * `content-length`, chunked) is drained and dropped chunk by chunk past the limit, never
 * buffered, and answers `undefined`. Check `declaredBody` first, so that a declared length over
 * the limit is refused before any byte is read.
 */
export const readCapped = (
  request: HttpServerRequest.HttpServerRequest
): Effect.Effect<string | undefined, HttpServerError.RequestError> =>
  Effect.suspend(() => {
    const kept: Array<Uint8Array> = []
    let size = 0
    return Stream.runForEach(request.stream, (chunk) =>
      Effect.sync(() => {
        size += chunk.length
        if (size <= maxBodyBytes) kept.push(chunk)
      })).pipe(
        Effect.map(() => size > maxBodyBytes ? undefined : Buffer.concat(kept).toString("utf8"))
      )
  })
