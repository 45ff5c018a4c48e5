import { Effect, Tracer } from "effect"

/** Effect's built-in tracer: its spans are recorded nowhere. */
const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/**
 * Runs a task in its span `executor.task <name>`, a root span linked to the submitter's span.
 * Without an installed tracer the span is skipped: it would be recorded nowhere, and it is the
 * largest cost of a small task (about half of it, measured with `npm run bench`).
 *
 * @internal
 */
export const withTaskSpan = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  link: Tracer.AnySpan | undefined,
  attributes: Record<string, unknown>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => isTracing(fiber) ? taskSpan(effect, name, link, attributes) : effect)

/** Whether the fiber has a tracer that records spans somewhere. @internal */
export const isTracing = (fiber: { readonly currentTracer: Tracer.Tracer }): boolean =>
  fiber.currentTracer !== nativeTracer

/** The span itself, unconditionally. @internal */
export const taskSpan = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  link: Tracer.AnySpan | undefined,
  attributes: Record<string, unknown>
): Effect.Effect<A, E, R> =>
  Effect.withSpan(effect, `executor.task ${name}`, {
    root: true,
    kind: "consumer",
    captureStackTrace: false,
    links: link === undefined ? [] : [{ _tag: "SpanLink", span: link, attributes: { "executor.link": "submitted-by" } }],
    attributes
  })
