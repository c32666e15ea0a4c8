// The operator files hold to the code: the Grafana dashboard and the alert rules query only metric names the gateway
// and the worker export (a rename breaks this test), the Prometheus and Grafana files have the shape their tools read,
// and docker-compose.yml validates without a .env, with and without the observability profile.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, publishedDevelopmentSecret } from '../core/config.js';
import { createGatewayMetrics } from '../gateway/metrics.js';
import { createWorkerMetrics } from '../settlement-worker/metrics.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/**
 * The metric names the code exports, read from the very registries the gateway and the worker serve: a metric
 * renamed in gateway/metrics.ts or settlement-worker/metrics.ts breaks the dashboard checks below.
 */
const contract: Record<string, string> = Object.fromEntries(
  [createGatewayMetrics().registry, createWorkerMetrics().registry]
    .flatMap((r) => r.getMetricsAsArray() as unknown as { name: string; type: string }[])
    .filter((m) => /^(gateway|worker)_/.test(m.name))
    .map((m) => [m.name, m.type]));
/** prom-client's default metrics (collectDefaultMetrics, every process) and Prometheus's own `up`. */
const defaults = new Set([
  'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'process_resident_memory_bytes', 'process_cpu_seconds_total', 'up',
]);

const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords, labels or strings. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/\$\{?\w+\}?/g, '') // Grafana variables ($__rate_interval, ${datasource})
    .replace(/\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b/g, ''); // numbers
  return [...bare.matchAll(/([a-zA-Z_:][\w:]*)\s*(\()?/g)]
    .filter((m) => m[2] === undefined && !keywords.has(m[1]!))
    .map((m) => m[1]!);
}

/** A name read from an expression, back to its contract name (histogram series end in _bucket, _sum, _count). */
function contractName(name: string): string | undefined {
  if (contract[name] !== undefined || defaults.has(name)) return name;
  const m = /^(.*)_(?:bucket|sum|count)$/.exec(name);
  return m && contract[m[1]!] === 'histogram' ? m[1] : undefined;
}

function unknownNames(exprs: string[]): string[] {
  return exprs.flatMap((e) => metricNames(e).filter((n) => contractName(n) === undefined).map((n) => `${n} in ${e}`));
}

interface Panel { type: string; title: string; datasource?: { uid: string }; targets?: Array<{ expr: string }>; gridPos: { x: number; y: number; w: number; h: number } }
const dashboard = JSON.parse(read('ops/grafana/dashboards/metering-gateway.json')) as {
  uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Array<{ name: string; type: string; query: string }> };
};
const graphs = dashboard.panels.filter((p) => p.type !== 'row');
const dashboardExprs = graphs.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const alertExprs = [...read('ops/prometheus/alerts.yml').matchAll(/^\s+expr:\s*(.+)$/gm)].map((m) => m[1]!);

describe('metric names in PromQL', () => {
  it('reads the names out of an expression, and refuses a renamed one', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, route) (rate(gateway_http_request_duration_seconds_bucket{status=~"5.."}[$__rate_interval])))'))
      .toEqual(['gateway_http_request_duration_seconds_bucket']);
    expect(metricNames('time() - max(worker_checkpoint_last_pass_timestamp_seconds) > 1e3 or absent(up{job="worker"})'))
      .toEqual(['worker_checkpoint_last_pass_timestamp_seconds', 'up']);
    expect(unknownNames(['sum(rate(gateway_heartbeats_acked_total[5m]))', 'gateway_sockets_open_count'])).toHaveLength(2);
  });

  it('the dashboard queries only contract names, and shows every one of them', () => {
    expect(dashboardExprs.length).toBeGreaterThan(20);
    expect(unknownNames(dashboardExprs)).toEqual([]);
    const shown = new Set(dashboardExprs.flatMap(metricNames).map(contractName));
    expect(Object.keys(contract).filter((n) => !shown.has(n))).toEqual([]);
  });

  it('the alert rules query only contract names', () => {
    expect(alertExprs.length).toBeGreaterThanOrEqual(5);
    expect(unknownNames(alertExprs)).toEqual([]);
  });
});

describe('Grafana dashboard', () => {
  it('is a provisionable dashboard: uid, title, schema, a data source variable every panel uses', () => {
    expect(dashboard).toMatchObject({ uid: 'metering-gateway', title: 'Metering gateway' });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    for (const p of graphs) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
    const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});

describe('Prometheus and Grafana provisioning files', () => {
  // No YAML parser among the dependencies: assertions on the lines the tools read, and no tab indentation (YAML
  // forbids it).
  const yamlFiles = ['ops/prometheus/prometheus.yml', 'ops/prometheus/alerts.yml',
    'ops/grafana/provisioning/datasources/prometheus.yml', 'ops/grafana/provisioning/dashboards/dashboards.yml'];

  it('are indented with spaces only', () => {
    for (const f of yamlFiles) expect(read(f), f).not.toMatch(/^\t/m);
  });

  it('prometheus.yml loads the alert rules and scrapes both gateways and the worker in the compose network', () => {
    const text = read('ops/prometheus/prometheus.yml');
    expect(text).toMatch(/^rule_files:\n\s+- alerts\.yml$/m);
    expect(text).toMatch(/^scrape_configs:$/m);
    expect(text).toMatch(/- job_name: gateway\n[\s\S]*?targets: \["gateway-1:9465", "gateway-2:9465"\]/);
    expect(text).toMatch(/- job_name: worker\n[\s\S]*?targets: \["worker:9464"\]/);
  });

  it('alerts.yml has the rules operators rely on', () => {
    const text = read('ops/prometheus/alerts.yml');
    expect(text).toMatch(/^groups:\n\s+- name: /m);
    for (const alert of ['SettlementBacklogOld', 'SettlementDeadLetters', 'CheckpointStale', 'NoWorkerConsumer', 'HeartbeatAckP99High']) {
      expect(text).toMatch(new RegExp(`- alert: ${alert}\\n\\s+expr: .+\\n\\s+for: \\d+m`));
    }
  });

  it('Grafana provisions the Prometheus data source and the dashboards folder compose mounts', () => {
    const datasource = read('ops/grafana/provisioning/datasources/prometheus.yml');
    expect(datasource).toMatch(/^apiVersion: 1$/m);
    expect(datasource).toMatch(/uid: prometheus\n\s+type: prometheus\n[\s\S]*url: http:\/\/prometheus:9090/);
    const providers = read('ops/grafana/provisioning/dashboards/dashboards.yml');
    expect(providers).toMatch(/^apiVersion: 1$/m);
    expect(providers).toMatch(/type: file\n[\s\S]*path: \/etc\/grafana\/dashboards$/m);
    expect(read('docker-compose.yml')).toContain('./ops/grafana/dashboards:/etc/grafana/dashboards:ro');
  });
});

describe('docker-compose.yml', () => {
  // No Docker engine here: the file is validated (interpolated, merged, checked against the schema), never run.
  const dir = mkdtempSync(join(tmpdir(), 'ops-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const emptyEnvFile = join(dir, 'empty.env');
  writeFileSync(emptyEnvFile, '');
  // Without a .env (an empty --env-file in its place, whatever the checkout has) and without JWT_SECRET or NODE_ENV
  // (vitest sets it to test) in the environment: what a fresh clone sees.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JWT_') && !k.startsWith('COMPOSE_') && k !== 'NODE_ENV'));
  const compose = (...args: string[]) => spawnSync('docker-compose', ['--env-file', emptyEnvFile, ...args], { cwd: root, env, encoding: 'utf8' });

  function requireDockerCompose(): void {
    const r = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      throw new Error('docker-compose is not installed: .ci/run installs it (apt-get install docker-compose); on a dev machine install it the same way');
    }
  }

  it('validates without a .env, with and without the observability profile', () => {
    requireDockerCompose();
    for (const args of [['config', '-q'], ['--profile', 'observability', 'config', '-q']]) {
      const r = compose(...args);
      expect(r.stderr, args.join(' ')).not.toMatch(/error|required variable/i);
      expect(r.status, `docker-compose ${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });

  it('runs two gateways and one worker with healthchecks, a one-shot migrate, and Prometheus and Grafana behind the profile', () => {
    requireDockerCompose();
    const r = compose('--profile', 'observability', 'config');
    expect(r.status, r.stderr).toBe(0);
    const services = serviceBlocks(r.stdout);
    expect([...services.keys()].sort()).toEqual(['gateway-1', 'gateway-2', 'grafana', 'migrate', 'postgres', 'prometheus', 'redis', 'worker']);
    for (const name of ['redis', 'postgres', 'gateway-1', 'gateway-2', 'worker', 'prometheus', 'grafana']) {
      expect(services.get(name), name).toMatch(/^ {4}healthcheck:$/m);
    }
    for (const name of ['gateway-1', 'gateway-2']) {
      expect(services.get(name)).toContain('http://127.0.0.1:8080/readyz');
      expect(services.get(name)).toContain('dist/gateway/main.js');
    }
    expect(services.get('gateway-1')).toMatch(/published: 8080\n\s+target: 8080/);
    expect(services.get('gateway-2')).toMatch(/published: 8081\n\s+target: 8080/);
    expect(services.get('worker')).toContain('http://127.0.0.1:9464/healthz');
    expect(services.get('worker')).toMatch(/WORKER_METRICS_PORT: '9464'/);
    expect(services.get('migrate')).toMatch(/restart: 'no'|restart: "no"/);
    for (const name of ['prometheus', 'grafana']) expect(services.get(name), name).toMatch(/profiles:\n\s+- observability/);
    for (const name of ['redis', 'postgres', 'migrate', 'gateway-1', 'gateway-2', 'worker']) expect(services.get(name), name).not.toContain('profiles:');
    // Interpolated without a secret: the gateways get an empty JWT_SECRET and refuse to start with their own message.
    expect(services.get('gateway-1')).toMatch(/JWT_SECRET: ''/);
    // Production rules unless .env says otherwise: the development secret and DEMO_MODE refused, /metrics off 8080.
    for (const name of ['gateway-1', 'gateway-2', 'worker', 'migrate']) expect(services.get(name), name).toMatch(/NODE_ENV: production/);
  });

  it('neither the compose file, the Dockerfile nor the README tells anyone to copy the development secret', () => {
    // The secret in .env.example is published: a deployment that copied it would let anyone sign tokens (and refuse
    // to start, under production rules). Only .env.example holds it, for `npm start` on a developer's machine.
    for (const f of ['docker-compose.yml', 'Dockerfile', 'README.md']) {
      const text = read(f);
      expect(text, f).not.toContain(publishedDevelopmentSecret);
      expect(text, f).not.toMatch(/cp \.env\.example \.env/);
    }
    expect(read('Dockerfile')).toMatch(/^ENV NODE_ENV=production$/m);
  });

  it('an empty JWT_SECRET, as compose passes it without a .env, stops the gateway with a message naming it', () => {
    expect(() => loadConfig({ JWT_SECRET: '' })).toThrow(/JWT_SECRET: set JWT_SECRET \(HS256\) or JWT_JWKS_URL/);
    expect(() => loadConfig({ JWT_SECRET: '' }, { requireAuth: false })).not.toThrow();
  });
});

/** `docker-compose config` output (normalized: 2-space indent, services sorted) split into one text per service. */
function serviceBlocks(config: string): Map<string, string> {
  const section = /^services:\n([\s\S]*?)(?=^\S)/m.exec(config)?.[1] ?? '';
  const blocks = new Map<string, string>();
  for (const part of section.split(/^(?= {2}[\w-]+:$)/m)) {
    const name = /^ {2}([\w-]+):$/m.exec(part)?.[1];
    if (name) blocks.set(name, part);
  }
  return blocks;
}
