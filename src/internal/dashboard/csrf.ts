import type { HttpServerRequest } from "@effect/platform"

/** The cookie that carries the anti-CSRF token. @internal */
export const csrfCookie = "executor_csrf"

/** The hidden form field that repeats the cookie's token on every POST. @internal */
export const csrfField = "csrf"

/** 32 random bytes, base64url: 43 characters. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** The request's token cookie, when it has one of the right shape. @internal */
export const tokenOf = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  const token = request.cookies[csrfCookie]
  return token !== undefined && TOKEN_PATTERN.test(token) ? token : undefined
}

/** @internal No `Origin` (old browsers, non-browser clients) passes; one that is present must be this host. */
export const sameOrigin = (request: HttpServerRequest.HttpServerRequest): boolean => {
  const origin = request.headers["origin"]
  if (origin === undefined) return true
  const host = request.headers["host"]
  if (host === undefined || host.length === 0) return false
  try {
    const from = new URL(origin)
    if (from.protocol !== "http:" && from.protocol !== "https:") return false
    // Parsed with the origin's scheme, so that a default port written out compares equal.
    return from.host === new URL(`${from.protocol}//${host}`).host
  } catch {
    return false
  }
}
