import { timingSafeEqual } from "node:crypto"

/**
 * Whether two secrets (a session hash, an anti-CSRF token) are equal, in time independent of
 * where they differ.
 *
 * @internal
 */
export const sameSecret = (a: string, b: string): boolean => {
  const x = Buffer.from(a, "utf8")
  const y = Buffer.from(b, "utf8")
  return x.length === y.length && timingSafeEqual(x, y)
}
