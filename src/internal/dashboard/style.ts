/** The dashboard's inline CSS: one sheet, no build. @internal */
export const style = `
  :root { color-scheme: light; --muted: #667085; --line: #e4e7ec; --bg: #f8f9fb }
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 72rem; margin: 0 auto;
    padding: 0 1.25rem 3rem; color: #1d2939 }
  header { display: flex; align-items: baseline; gap: 1rem; padding: .9rem 0; border-bottom: 1px solid var(--line);
    margin-bottom: 1rem }
  header a { font-weight: 600; color: inherit; text-decoration: none }
  header span { color: var(--muted) }
  h1 { font-size: 1.4rem; margin: .5rem 0 1rem } h2 { font-size: 1.1rem; margin: 2rem 0 .6rem }
  a { color: #1d4ed8 } .muted { color: var(--muted) }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums }
  th, td { padding: .35rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top }
  thead th { background: var(--bg); font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted) }
  td.num, th.num, td.time { text-align: right; white-space: nowrap } td.time { text-align: left } td.zero { color: #c0c4cc } tr.total td { font-weight: 600 }
  tr.selected th, tr.selected td { background: #f5f8ff }
  td.error { color: #b42318; max-width: 28rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap }
  code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace }
  pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: .75rem; overflow: auto; max-height: 30rem }
  .state { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600;
    background: #eef2f6; color: #344054 }
  .state-queued { background: #eff8ff; color: #175cd3 } .state-running { background: #fffaeb; color: #b54708 }
  .state-succeeded { background: #ecfdf3; color: #067647 } .state-failed { background: #fef3f2; color: #b42318 }
  .state-interrupted { background: #f4f3ff; color: #5925dc } .state-held { background: #f2f4f7; color: #475467 }
  nav.filters { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; margin: .4rem 0 .8rem }
  nav.filters a, nav.filters strong { padding: .1rem .6rem; border: 1px solid var(--line); border-radius: 999px; text-decoration: none }
  nav.filters strong { background: #1d2939; color: white; border-color: #1d2939 }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.5rem; margin: 0 }
  dt { color: var(--muted) } dd { margin: 0 }
  .actions { display: flex; gap: .6rem; margin: 1.2rem 0 } .actions form { margin: 0 }
  button { font: inherit; padding: .35rem 1rem; border-radius: 6px; border: 1px solid #d0d5dd; background: white; cursor: pointer }
  button.retry { background: #1d4ed8; color: white; border-color: #1d4ed8 }
  button.cancel { color: #b42318; border-color: #fda29b }
  .notice { background: #eff8ff; border: 1px solid #b2ddff; border-radius: 6px; padding: .5rem .8rem }
  .problem { background: #fef3f2; border: 1px solid #fecdca; border-radius: 6px; padding: .5rem .8rem }
  p.error { color: #b42318; font-weight: 500 }
`

/** Headers of every dashboard page: no caching, no framing, no scripts. @internal */
export const securityHeaders = {
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin"
}
