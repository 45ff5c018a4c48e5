import { HttpServerResponse } from "@effect/platform"
import { type Html, html, type Interpolation, unsafeRaw } from "../html.js"
import { securityHeaders, style } from "./style.js"

/** One dashboard page. @internal */
export interface Page {
  readonly title: string
  readonly body: Html
  readonly status?: number
  readonly refreshSeconds?: number
}

/** Renders pages, and problem pages, under the dashboard's prefix. @internal */
export const makeRenderer = (prefix: string) => {
  const home = prefix === "" ? "/" : prefix
  const render = (page: Page): HttpServerResponse.HttpServerResponse => {
    const refresh = page.refreshSeconds === undefined
      ? ""
      : html`<meta http-equiv="refresh" content="${page.refreshSeconds}">`
    const document = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
${refresh}
<title>${page.title} · executor</title>
<style>${unsafeRaw(style)}</style>
</head>
<body>
<header><a href="${home}">Executor dashboard</a><span>effect-executor</span></header>
<h1>${page.title}</h1>
${page.body}
</body>
</html>
`
    return HttpServerResponse.html(document.value).pipe(
      HttpServerResponse.setStatus(page.status ?? 200),
      HttpServerResponse.setHeaders(securityHeaders)
    )
  }
  const problem = (status: number, title: string, message: Interpolation, links: Interpolation = ""): HttpServerResponse.HttpServerResponse =>
    render({
      title,
      status,
      body: html`<p class="problem">${message}</p>${links}<p><a href="${home}">Back to the dashboard</a></p>`
    })
  return { home, render, problem }
}
