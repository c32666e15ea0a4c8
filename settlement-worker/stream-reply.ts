// Shapes of Redis stream replies, checked once here so the loops work with typed entries. A pending entry whose
// body was deleted (XDEL) comes back with null fields.

export interface StreamEntry {
  id: string;
  /** Flat field/value list as stored by XADD, or null when the entry was deleted while pending. */
  fields: string[] | null;
}

function toEntry(raw: unknown): StreamEntry {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') throw new TypeError('unexpected stream entry shape');
  const fields = raw[1];
  if (fields === null || fields === undefined) return { id: raw[0], fields: null };
  if (!Array.isArray(fields)) throw new TypeError('unexpected stream entry fields');
  return { id: raw[0], fields: fields.map(String) };
}

/** XREADGROUP … STREAMS <one key> → the entries of that one stream (empty on a BLOCK timeout). */
export function entriesOfRead(reply: unknown): StreamEntry[] {
  if (reply === null || reply === undefined) return [];
  if (!Array.isArray(reply)) throw new TypeError('unexpected XREADGROUP reply');
  const stream = reply[0] as unknown;
  if (!Array.isArray(stream) || !Array.isArray(stream[1])) return [];
  return (stream[1] as unknown[]).map(toEntry);
}

/** XAUTOCLAIM reply → [next cursor, claimed entries, ids that were deleted while pending (Redis ≥ 7)]. */
export function partsOfAutoclaim(reply: unknown): { cursor: string; entries: StreamEntry[]; deletedIds: string[] } {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string' || !Array.isArray(reply[1])) {
    throw new TypeError('unexpected XAUTOCLAIM reply');
  }
  const entries = (reply[1] as unknown[]).filter((e) => e !== null).map(toEntry);
  const deletedIds = Array.isArray(reply[2]) ? (reply[2] as unknown[]).map(String) : [];
  return { cursor: reply[0], entries, deletedIds };
}

/** XPENDING <key> <group> <start> <end> <count> [consumer] → delivery count per entry id. */
export function deliveriesOfPending(reply: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (!Array.isArray(reply)) return out;
  for (const row of reply as unknown[]) {
    if (Array.isArray(row) && typeof row[0] === 'string') out.set(row[0], Number(row[3]));
  }
  return out;
}

/** Flat [field, value, …] → object, for zod. No prototype, so a field named `__proto__` is only data. */
export function fieldsToObject(fields: readonly string[]): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}
