// The driver's command line spreads a big run the way this machine needs: processes under the per-process file
// limit, each on its own loopback destination address, students enough for the create rate, viewers interleaved.
import { describe, expect, it } from 'vitest';
import { gatewayUrlForProcess, parseOptions, viewersPerProcessMax, type Options } from '../../loadtest/driver/options.js';
import { shareOf } from '../../loadtest/driver/viewer-fleet.js';

const parse = (args: string[], env: Record<string, string> = {}): Options => {
  const p = parseOptions(args, env);
  if (p.help) throw new Error('help');
  return p.options;
};

describe('driver options', () => {
  it('100k viewers: processes of at most 12,500 sockets on 127.0.0.2…, students for the ramp rate', () => {
    const o = parse(['--viewers', '100000', '--ramp-s', '120', '--hold-s', '60']);
    expect(o.processes).toBe(100_000 / viewersPerProcessMax);
    expect(o.students).toBe(834); // 833.3 creates/s at 1 planned per student (options.ts createsPerSecondPerStudent)
    expect(o.durationS).toBe(180); // ramp + hold: all viewers connected together for the hold
    expect(o.spreadAddresses).toBe(true);
    expect([0, 1, 7].map((k) => gatewayUrlForProcess(o, k))).toEqual(['http://127.0.0.2:8080', 'http://127.0.0.3:8080', 'http://127.0.0.9:8080']);
  });

  it('refuses too few processes, and --hold-s with --duration-s', () => {
    expect(() => parse(['--viewers', '30000', '--processes', '2'])).toThrow(/at least 3 processes/);
    expect(() => parse(['--hold-s', '5', '--duration-s', '5'])).toThrow(/not both/);
  });

  it('--echo-floor runs the floor before the scenario, --echo-only the floor alone', () => {
    expect(parse([]).echoFloor).toBe('none');
    expect(parse(['--echo-floor']).echoFloor).toBe('before');
    expect(parse(['--echo-only']).echoFloor).toBe('only');
  });

  it('keeps a non-loopback gateway address as it is', () => {
    const o = parse([], { GATEWAY_URL: 'http://10.0.0.5:8080' });
    expect(o.spreadAddresses).toBe(false);
    expect(gatewayUrlForProcess(o, 3)).toBe('http://10.0.0.5:8080');
  });

  it('shares interleave the viewers so every process ramps together and all are covered once', () => {
    const shares = [0, 1, 2].map((k) => shareOf(k, 3, 10));
    const indexes = shares.flatMap((s) => Array.from({ length: s.count }, (_, j) => s.first + j * s.step));
    expect(indexes.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
