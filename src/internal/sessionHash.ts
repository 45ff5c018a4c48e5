import { createHmac, randomBytes } from "node:crypto"

/** Marks a stored session as a keyed hash; a value without it was stored in the clear by an earlier version. */
const PREFIX = "hmac:"

/**
 * The keyed hash a task keeps of the session that submitted it: HMAC-SHA256 of the session with
 * the layer's key, base64url, prefixed with `"hmac:"`. The session itself is never stored.
 *
 * @internal
 */
export const hashSession = (key: string, session: string): string =>
  PREFIX + createHmac("sha256", key).update(session, "utf8").digest("base64url")

/**
 * A fresh key to hash sessions with: 32 random bytes, base64url.
 *
 * @internal
 */
export const randomSessionKey = (): string => randomBytes(32).toString("base64url")
