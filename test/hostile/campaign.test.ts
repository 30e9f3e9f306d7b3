/**
 * The hostile input campaign (issue 10, chaos/hostile/): at least 100
 * repositories and webhook deliveries built to break rollgate, each through
 * validate, plan, `run --once` and the receiver, with no crash, no partial
 * apply and no message without a location. Not a timed test: the campaign
 * takes about a minute and a half on two cores.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runHostileCampaign } from '../../chaos/hostile/campaign.ts';
import { deliveryCases, repositoryCases } from '../../chaos/hostile/cases.ts';

test('the corpus has at least 100 cases with unique names', () => {
  const names = [...repositoryCases(), ...deliveryCases()].map((c) => c.name);
  assert.ok(names.length >= 100, `only ${names.length} cases`);
  assert.equal(new Set(names).size, names.length);
});

test('no hostile case crashes, applies partially or gives a message without a location', { timeout: 600_000 }, async () => {
  const seen: string[] = [];
  const result = await runHostileCampaign({ log: (line) => seen.push(line) });
  assert.ok(result.cases >= 100, `only ${result.cases} cases ran`);
  assert.equal(seen.length, result.cases, 'one log line per case');
  assert.deepEqual(result.failures, []);
  assert.equal(result.crashes, 0);
  assert.equal(result.partialApplies, 0);
  assert.equal(result.unlocated, 0);
});
