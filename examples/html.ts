/**
 * A tiny server-side HTML helper for the example: an `html` template tag that escapes every
 * interpolated value unless it is itself `Html`, and a `page` that wraps a body in a document and
 * turns it into an `HttpServerResponse`. No front-end build, no dependencies.
 */
import { HttpServerResponse } from "@effect/platform"

/** A piece of markup that is already safe to emit. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

/** What may be interpolated: text (escaped), numbers, markup, or lists of those. */
export type Interpolation = Html | string | number | ReadonlyArray<Interpolation> | null | undefined

const entities: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\"": "&quot;",
  "'": "&#39;"
}

/** Escapes text for element content and quoted attribute values. */
export const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => entities[c]!)

const render = (value: Interpolation): string => {
  if (value === null || value === undefined) return ""
  if (value instanceof Html) return value.value
  if (Array.isArray(value)) return value.map(render).join("")
  return escape(String(value))
}

/** `html\`<p>${text}</p>\``: every interpolation is escaped unless it is `Html`. */
export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<Interpolation>): Html => {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!
  return new Html(out)
}

const style = `
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #222 }
  h1 { font-size: 1.5rem } h2 { font-size: 1.15rem; margin-top: 2rem }
  form { margin: .5rem 0 } input, button { font: inherit; padding: .25rem .5rem }
  table { border-collapse: collapse } td, th { padding: .2rem .8rem; border-bottom: 1px solid #ddd; text-align: right }
  th { text-align: left } .muted { color: #666 } code { background: #f3f3f3; padding: 0 .2rem }
`

const siteName = "effect-executor example"

/** A whole HTML document as a response. `refreshSeconds` adds a `<meta http-equiv="refresh">`. */
export const page = (
  title: string,
  body: Html,
  options: { readonly status?: number; readonly refreshSeconds?: number } = {}
): HttpServerResponse.HttpServerResponse => {
  const refresh = options.refreshSeconds === undefined
    ? ""
    : html`<meta http-equiv="refresh" content="${options.refreshSeconds}">`
  const document = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refresh}
<title>${title === siteName ? title : `${title} · ${siteName}`}</title>
<style>${new Html(style)}</style>
</head>
<body>
<h1>${title}</h1>
${body}
</body>
</html>
`
  return HttpServerResponse.html(document.value).pipe(HttpServerResponse.setStatus(options.status ?? 200))
}
