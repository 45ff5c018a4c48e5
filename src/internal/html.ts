/**
 * A tiny server-side HTML helper: an `html` template tag that escapes every interpolated value
 * unless it is itself `Html`. No front-end build, no dependencies. (The example app has its own
 * copy in `examples/html.ts`; the library does not import from the examples.)
 *
 * @internal
 */

/**
 * A piece of markup that is already safe to emit.
 *
 * @internal
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

/**
 * What may be interpolated: text (escaped), numbers, markup, or lists of those.
 *
 * @internal
 */
export type Interpolation = Html | string | number | boolean | ReadonlyArray<Interpolation> | null | undefined

const entities: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\"": "&quot;",
  "'": "&#39;"
}

/**
 * Escapes text for element content and quoted attribute values.
 *
 * @internal
 */
export const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => entities[c]!)

const render = (value: Interpolation): string => {
  if (value === null || value === undefined) return ""
  if (value instanceof Html) return value.value
  if (Array.isArray(value)) return value.map(render).join("")
  return escape(String(value))
}

/**
 * `html\`<p>${text}</p>\``: every interpolation is escaped unless it is `Html`.
 *
 * @internal
 */
export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<Interpolation>): Html => {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!
  return new Html(out)
}

/**
 * Markup that is trusted as it is (a constant of the program, never user data).
 *
 * @internal
 */
export const unsafeRaw = (markup: string): Html => new Html(markup)
