// The body of every REST error (README "Error codes"), its codes the error table's (core/errors.ts). Apart from the
// other REST bodies (rest.ts) so the player's bundle, which reads errors without this schema, need not carry the table.
import { z } from 'zod';
import { errorTable, type ErrorCode } from '../errors.js';

export const errorCodes = Object.keys(errorTable) as [ErrorCode, ...ErrorCode[]];

/** `{"error": {"code", "message", "details"?}}`; `details` lists the zod issues of `invalid_body`, or a retry hint. */
export const apiErrorBody = z.object({
  error: z.object({ code: z.enum(errorCodes), message: z.string(), details: z.unknown().optional() }),
});
export type ApiErrorBody = z.infer<typeof apiErrorBody>;
