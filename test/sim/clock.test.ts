/** The simulation's clock: scaled, and able to start at a chosen moment (the demo starts just before a maintenance window). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClock } from '../../sim/clock.ts';
import { startSimulation } from '../../sim/simulation.ts';

describe('sim clock', () => {
  it('starts at the given moment and runs at its scale from there', async () => {
    const startAt = Date.UTC(2026, 10, 24, 0, 54);
    const clock = createClock(50, startAt);
    const first = clock.now();
    assert.ok(first >= startAt && first < startAt + 5_000, `${first - startAt} ms after the start`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(clock.now() - startAt >= 20 * 50, 'it moves 50 simulated ms per wall ms');
    assert.match(clock.rfc3339(), /^2026-11-24T00:5\d:\d\dZ$/);
    clock.stop();
  });

  it('refuses a start that is not a number', () => {
    assert.throws(() => createClock(1, Number.NaN), /start time must be a finite number of ms/);
  });

  it('gives the API server the same time: objects are created at the simulated start', async () => {
    const startAt = Date.UTC(2030, 0, 2, 3, 4, 5);
    const sim = await startSimulation({ startAt });
    try {
      const report = sim.load('sim', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' } }] as never);
      assert.deepEqual(report.errors, []);
      assert.ok(sim.clock.now() >= startAt && sim.clock.now() < startAt + 60_000);
      assert.ok(sim.clock.rfc3339().startsWith('2030-01-02T03:0'));
    } finally {
      await sim.close();
    }
  });
});
