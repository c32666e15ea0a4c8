// bench/results.md as renderResults writes it for a made-up run holding only `results`: for the bench steps' tests.
import { renderResults } from '../../bench/results-file.js';

export function resultsMarkdownOf(results: Record<string, unknown>): string {
  return renderResults({
    when: '2025-01-01T00:00:00Z', commit: 'c'.repeat(40), machine: { cpuModel: 'x', cpus: 2, memoryGiB: 24, node: 'v20' },
    params: { heartbeatMs: 5000 }, results,
  });
}
