// The `Idempotency-Key` header's rule, without zod: the gateway's schema (rest.ts) and the player SDK both check keys
// with it, and the SDK's bundle must not carry zod (player/sdk/README.md "Size").
import { idempotencyKeyLengthMax } from '../limits.js';

/** 1 or more printable ASCII characters, none blank at either end (the length bound is separate). */
export const idempotencyKeyPattern = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
export const idempotencyKeyTooLong = `Idempotency-Key longer than ${idempotencyKeyLengthMax}`;
export const idempotencyKeyMalformed = 'Idempotency-Key must be 1 to 200 printable ASCII characters, not blank at either end';

/** Why `key` is not a valid Idempotency-Key, or null when it is. */
export function idempotencyKeyProblem(key: string): string | null {
  if (key.length > idempotencyKeyLengthMax) return idempotencyKeyTooLong;
  return idempotencyKeyPattern.test(key) ? null : idempotencyKeyMalformed;
}
