// The restart delay of `npm start`'s children: doubles with each recent crash, from the minimum, never past the cap.
import { describe, expect, it } from 'vitest';
import { childRestartDelayMsMax, childRestartDelayMsMin } from '../core/limits.js';
import { restartDelayMs } from './supervise-children.js';

describe('restartDelayMs', () => {
  it('starts at the minimum, doubles per recent crash and stops at the cap', () => {
    expect(restartDelayMs(1)).toBe(childRestartDelayMsMin);
    expect(restartDelayMs(2)).toBe(2 * childRestartDelayMsMin);
    expect(restartDelayMs(3)).toBe(4 * childRestartDelayMsMin);
    expect(restartDelayMs(50)).toBe(childRestartDelayMsMax);
  });
});
