/**
 * The agent's metrics: every series the issue names, in valid Prometheus
 * text format, on a registry of their own (two sets in one process do not
 * collide), the rollout phase one-hot, and leader events feeding the
 * leader gauge and API error counter.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveRequestError } from '../../agent/live/index.ts';
import { createMetrics, rolloutPhases } from '../../agent/runtime/metrics.ts';

/** A sample line: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly: every
 * line is a HELP, a TYPE or a sample of a declared family; label values
 * are quoted with escapes; values are Go floats. Throws naming the line.
 */
function parsePrometheusText(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split('\n');
  assert.equal(lines.at(-1), '', 'ends with a newline');
  lines.slice(0, -1).forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    // The format ignores empty lines (prom-client writes one between families).
    if (line === '') return undefined;
    if (line.startsWith('# HELP ')) return assert.match(line, /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/, where);
    if (line.startsWith('# TYPE ')) {
      const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      assert.ok(m, where);
      types.set(m[1] as string, m[2] as string);
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    assert.ok(m, where);
    const name = m[1] as string;
    const family = [...types.keys()].find((t) => name === t || ((types.get(t) === 'histogram' || types.get(t) === 'summary') && /^(_bucket|_sum|_count)$/.test(name.slice(t.length)) && name.startsWith(t)));
    assert.ok(family, `${where}: no TYPE for ${name}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const raw = m[3] as string;
    // Prometheus reads values with Go's strconv.ParseFloat: NaN and Inf in any case (prom-client writes `Nan`).
    const nan = /^nan$/i.test(raw);
    const inf = /^([+-]?)inf(inity)?$/i.exec(raw);
    const value = nan ? NaN : inf ? (inf[1] === '-' ? -Infinity : Infinity) : Number(raw);
    assert.ok(nan || !Number.isNaN(value), `${where}: bad value`);
    samples.push({ name, labels, value });
    return undefined;
  });
  return { types, samples };
}

const find = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('metrics', () => {
  it('exposes every series, in valid text format', async () => {
    const m = createMetrics();
    m.observeReconcile(0.42, 'success');
    m.observeReconcile(3, 'error');
    m.observeReconcile(-1, 'success');
    m.countGitPoll('unchanged');
    m.countGitPoll('unchanged');
    m.countGitPoll('changed');
    m.countGitFetch('success');
    m.setSourceDegraded('https://git.example/fleet.git', true);
    m.setRolloutPhase('prod/tidb/TidbCluster/basic', 'Progressing');
    m.setRolloutPhase('prod/tidb/TidbCluster/basic', 'Halted');
    m.setRolloutPhase('staging/redis/RedisEnterpriseCluster/rec', 'Succeeded');
    m.observeGateWait('soak', 120);
    m.observeGateWait('approval', 7200);
    m.countApiError('prod', 503);
    m.countApiError('prod', 'network');
    m.countForgeError('github', 502);
    m.setLeader(0, true);
    m.setLeader(1, false);
    m.countWebhookDelivery('gitlab', 'accepted');
    m.countWebhookDelivery('github', 'unauthorized');

    const text = await m.text();
    const { types, samples } = parsePrometheusText(text);
    const expectedTypes: Record<string, string> = {
      rollgate_reconcile_duration_seconds: 'histogram',
      rollgate_git_polls_total: 'counter',
      rollgate_git_fetches_total: 'counter',
      rollgate_source_degraded: 'gauge',
      rollgate_rollout_phase: 'gauge',
      rollgate_gate_wait_seconds: 'histogram',
      rollgate_api_errors_total: 'counter',
      rollgate_forge_errors_total: 'counter',
      rollgate_leader_status: 'gauge',
      rollgate_webhook_deliveries_total: 'counter',
      process_cpu_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
    };
    for (const [name, type] of Object.entries(expectedTypes)) assert.equal(types.get(name), type, name);
    // Every rollgate family is prefixed and carries its unit or _total.
    for (const name of types.keys()) if (name.startsWith('rollgate_')) assert.match(name, /_(seconds|total)$|^rollgate_(source_degraded|rollout_phase|leader_status)$/, name);

    assert.deepEqual(find(samples, 'rollgate_reconcile_duration_seconds_count', { result: 'success' }).map((s) => s.value), [1], 'a negative duration is dropped');
    assert.deepEqual(find(samples, 'rollgate_reconcile_duration_seconds_sum', { result: 'error' }).map((s) => s.value), [3]);
    assert.deepEqual(find(samples, 'rollgate_reconcile_duration_seconds_bucket', { result: 'success', le: '0.5' }).map((s) => s.value), [1]);
    assert.deepEqual(find(samples, 'rollgate_reconcile_duration_seconds_bucket', { result: 'success', le: '+Inf' }).map((s) => s.value), [1]);
    assert.deepEqual(find(samples, 'rollgate_git_polls_total', { result: 'unchanged' }).map((s) => s.value), [2]);
    assert.deepEqual(find(samples, 'rollgate_git_polls_total', { result: 'changed' }).map((s) => s.value), [1]);
    assert.deepEqual(find(samples, 'rollgate_git_fetches_total', { result: 'success' }).map((s) => s.value), [1]);
    assert.deepEqual(find(samples, 'rollgate_source_degraded', { source: 'https://git.example/fleet.git' }).map((s) => s.value), [1]);
    // One-hot: the target's current phase is 1, every other phase 0.
    const phases = find(samples, 'rollgate_rollout_phase', { target: 'prod/tidb/TidbCluster/basic' });
    assert.deepEqual(
      Object.fromEntries(phases.map((s) => [s.labels['phase'], s.value])),
      Object.fromEntries(rolloutPhases.map((p) => [p, p === 'Halted' ? 1 : 0])),
    );
    assert.equal(find(samples, 'rollgate_rollout_phase', { phase: 'Succeeded' }).filter((s) => s.value === 1).length, 1);
    assert.deepEqual(find(samples, 'rollgate_gate_wait_seconds_count', { gate: 'approval' }).map((s) => s.value), [1]);
    assert.deepEqual(find(samples, 'rollgate_gate_wait_seconds_bucket', { gate: 'soak', le: '60' }).map((s) => s.value), [0]);
    assert.deepEqual(find(samples, 'rollgate_gate_wait_seconds_bucket', { gate: 'soak', le: '300' }).map((s) => s.value), [1]);
    assert.deepEqual(find(samples, 'rollgate_api_errors_total', { cluster: 'prod' }).map((s) => [s.labels['code'], s.value]), [['503', 1], ['network', 1]]);
    assert.deepEqual(find(samples, 'rollgate_forge_errors_total', { forge: 'github', code: '502' }).map((s) => s.value), [1]);
    assert.deepEqual(find(samples, 'rollgate_leader_status', {}).map((s) => [s.labels['shard'], s.value]), [['0', 1], ['1', 0]]);
    assert.deepEqual(find(samples, 'rollgate_webhook_deliveries_total', { forge: 'github', result: 'unauthorized' }).map((s) => s.value), [1]);

    m.forgetTarget('prod/tidb/TidbCluster/basic');
    const after = parsePrometheusText(await m.text()).samples;
    assert.deepEqual(find(after, 'rollgate_rollout_phase', { target: 'prod/tidb/TidbCluster/basic' }), []);
    assert.equal(find(after, 'rollgate_rollout_phase', { target: 'staging/redis/RedisEnterpriseCluster/rec' }).length, rolloutPhases.length);
  });

  it('keeps registries apart, with default labels and without default metrics on request', async () => {
    const one = createMetrics({ defaultMetrics: false, defaultLabels: { replica: 'rollgate-0' } });
    const two = createMetrics({ defaultMetrics: false });
    one.countGitPoll('failed');
    const a = parsePrometheusText(await one.text());
    const b = parsePrometheusText(await two.text());
    assert.deepEqual(find(a.samples, 'rollgate_git_polls_total', { result: 'failed' }).map((s) => [s.labels['replica'], s.value]), [['rollgate-0', 1]]);
    assert.deepEqual(find(b.samples, 'rollgate_git_polls_total', {}), []);
    assert.equal(a.types.has('process_cpu_seconds_total'), false);
  });

  it('turns leader events into the leader gauge and API errors', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const feed = m.leaderEvents('prod');
    const lease = 'rollgate/rollgate-shard-2';
    feed(2, { type: 'new-leader', lease, holder: 'other' });
    let samples = parsePrometheusText(await m.text()).samples;
    assert.deepEqual(find(samples, 'rollgate_leader_status', { shard: '2' }).map((s) => s.value), [0], 'a follower has the series at 0');
    feed(2, { type: 'new-leader', lease, holder: 'me' });
    feed(2, { type: 'started-leading', lease, identity: 'me' });
    feed(2, { type: 'request-failed', lease, operation: 'update', code: '409', error: new LiveRequestError('status', 'PUT x', '409', { status: 409 }) });
    feed(2, { type: 'request-failed', lease, operation: 'get', code: '503', error: new LiveRequestError('status', 'GET x', '503', { status: 503 }) });
    samples = parsePrometheusText(await m.text()).samples;
    assert.deepEqual(find(samples, 'rollgate_leader_status', { shard: '2' }).map((s) => s.value), [1]);
    assert.deepEqual(find(samples, 'rollgate_api_errors_total', { cluster: 'prod' }).map((s) => [s.labels['code'], s.value]), [['503', 1]], 'a lost race (409) is not an error');
    feed(2, { type: 'stopped-leading', lease, identity: 'me', reason: 'renew-deadline' });
    samples = parsePrometheusText(await m.text()).samples;
    assert.deepEqual(find(samples, 'rollgate_leader_status', { shard: '2' }).map((s) => s.value), [0]);
  });

  it('the parser rejects what Prometheus would', () => {
    assert.throws(() => parsePrometheusText('rollgate_x 1\n'), /no TYPE/);
    assert.throws(() => parsePrometheusText('# TYPE rollgate_x gauge\nrollgate_x{a="1} 1\n'), /line 2/);
    assert.throws(() => parsePrometheusText('# TYPE rollgate_x gauge\nrollgate_x one\n'), /bad value/);
  });
});
