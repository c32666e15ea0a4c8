// The one `Range: bytes=…` header a video element sends when it seeks (RFC 9110 §14), reduced to what to answer.
// One range only: a multi-range request, another unit or a malformed header is ignored (answered in full, as the RFC
// allows), so only a well-formed range outside the file is refused (416).

export type RangeAnswer =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const singleRange = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/** What to send of a `size`-byte file for this Range header value ('' = none); `end` is inclusive. */
export function answerRange(header: string, size: number): RangeAnswer {
  if (header === '') return { kind: 'full' };
  const m = singleRange.exec(header);
  if (!m) return { kind: 'full' };
  const [first, last] = [m[1]!, m[2]!];
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    // A suffix: the last N bytes (all of them when N is larger than the file).
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'full' }; // an invalid range-spec: ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}
