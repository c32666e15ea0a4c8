// The Range header rules of the demo page's files (RFC 9110 §14): what a seeking video element gets back.
import { describe, expect, it } from 'vitest';
import { answerRange } from './byte-range.js';

describe('answerRange', () => {
  it('serves a closed, an open-ended and a suffix range, clamped to the file', () => {
    expect(answerRange('bytes=0-99', 1000)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(answerRange('bytes=500-', 1000)).toEqual({ kind: 'partial', start: 500, end: 999 });
    expect(answerRange('bytes=900-5000', 1000)).toEqual({ kind: 'partial', start: 900, end: 999 });
    expect(answerRange('bytes=-100', 1000)).toEqual({ kind: 'partial', start: 900, end: 999 });
    expect(answerRange('bytes=-5000', 1000)).toEqual({ kind: 'partial', start: 0, end: 999 });
    expect(answerRange('bytes=999-999', 1000)).toEqual({ kind: 'partial', start: 999, end: 999 });
    expect(answerRange('Bytes = 1 - 2', 1000)).toEqual({ kind: 'partial', start: 1, end: 2 });
  });

  it('refuses a well-formed range that starts past the end, or an empty suffix', () => {
    expect(answerRange('bytes=1000-', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(answerRange('bytes=1000-2000', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(answerRange('bytes=99999999999999999999-', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(answerRange('bytes=-0', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(answerRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores what it does not serve: no header, other units, several ranges, malformed or reversed ranges', () => {
    for (const header of ['', 'items=0-1', 'bytes=0-1,5-6', 'bytes=abc', 'bytes=-', 'bytes=5-1', 'bytes 0-1', 'bytes=0x10-']) {
      expect(answerRange(header, 1000), header).toEqual({ kind: 'full' });
    }
  });
});
