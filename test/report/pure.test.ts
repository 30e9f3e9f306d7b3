/**
 * The report stage's pure functions, as tables: commit messages and
 * trailers, status documents (duplicates, stale rollouts, history), paths,
 * transition checks, sanitising, backoff, version diffs and relevance.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diffVersions, formatDate, formatVersionChanges, literalPrefix, manifestRelevance, signatureStatus } from '../../agent/report/audit/index.ts';
import {
  checkTransition,
  commitMessage,
  nextStatusDocument,
  parseStatusDocument,
  parseTrailers,
  renderStatusDocument,
  retryDelay,
  sanitize,
  secretsOf,
  statusFilePath,
  statusTrailers,
  targetOfStatusPath,
  type StatusDocument,
} from '../../agent/report/git/index.ts';
import type { RepositoryConfig } from '../../agent/manifests/index.ts';
import { tidbStages, tidbTransition } from './helpers.ts';

const source = '0123456789abcdef0123456789abcdef01234567';

describe('commit messages and trailers', () => {
  test('subjects name target, phase, stage and 1-based step out of the stage pods', () => {
    const table: [Partial<Parameters<typeof tidbTransition>[1]>, string][] = [
      [{}, 'staging/tidb/TidbCluster/tidb: Progressing tikv (step 2/3)'],
      [{ phase: 'Pending', stage: undefined, step: undefined }, 'staging/tidb/TidbCluster/tidb: Pending'],
      [{ stage: 'tidb', step: 0 }, 'staging/tidb/TidbCluster/tidb: Progressing tidb (step 1/2)'],
      [{ stage: 'ticdc', step: 4 }, 'staging/tidb/TidbCluster/tidb: Progressing ticdc (step 5)'],
      [{ phase: 'Waiting', stage: 'tidb', step: undefined }, 'staging/tidb/TidbCluster/tidb: Waiting tidb'],
    ];
    for (const [overrides, subject] of table) assert.equal(commitMessage(tidbTransition(source, overrides)).split('\n')[0], subject);
  });

  test('bodies carry the message, the error and what a wait is for, and credentials never', () => {
    const message = commitMessage(
      tidbTransition(source, {
        phase: 'Waiting',
        stage: 'tidb',
        step: undefined,
        source: undefined,
        message: 'Waiting for the window; see https://bot:tok3n@ci.example.com/run/1.',
        waitingFor: { gate: 'maintenanceWindow', description: 'weekdays 02:00 Europe/Berlin\nfor 3h', until: '2024-05-03T00:00:00Z' },
      }),
    );
    assert.equal(
      message,
      [
        'staging/tidb/TidbCluster/tidb: Waiting tidb',
        '',
        'Waiting for the window; see https://***@ci.example.com/run/1.',
        '',
        'Waiting for maintenanceWindow: weekdays 02:00 Europe/Berlin for 3h (until 2024-05-03T00:00:00Z)',
        '',
        'Rollgate-Target: staging/tidb/TidbCluster/tidb',
        'Rollgate-Plan: plan-1',
        'Rollgate-Phase: Waiting',
        'Rollgate-Stage: tidb',
        '',
      ].join('\n'),
    );
    assert.deepEqual(statusTrailers(message), { target: 'staging/tidb/TidbCluster/tidb', source: undefined, planHash: 'plan-1', phase: 'Waiting', stage: 'tidb', step: undefined });
  });

  test('trailers read back what was written; other messages are not status commits', () => {
    assert.deepEqual(statusTrailers(commitMessage(tidbTransition(source))), { target: 'staging/tidb/TidbCluster/tidb', source, planHash: 'plan-1', phase: 'Progressing', stage: 'tikv', step: 1 });
    const table: [string, boolean][] = [
      ['Upgrade TiDB\n\nSigned-off-by: Ann <ann@example.com>\n', false],
      ['Rollgate-Target: a/b/C/d\nRollgate-Phase: Pending\n', false], // a subject alone has no trailer block
      ['x\n\nRollgate-Target: a/b/C/d\nRollgate-Phase: Dancing\n', false],
      ['x\n\nRollgate-Target: a/b/C/d\nnot a trailer\nRollgate-Phase: Pending\n', false],
      ['x\n\nbody\n\nrollgate-target: a/b/C/d\nROLLGATE-PHASE: Halted\n', true],
    ];
    for (const [message, want] of table) assert.equal(statusTrailers(message) !== undefined, want, message);
    assert.deepEqual(parseTrailers('s\n\nA: 1\nB-c:2  \n'), [
      { key: 'A', value: '1' },
      { key: 'B-c', value: '2' },
    ]);
  });
});

describe('status documents', () => {
  const first = nextStatusDocument(undefined, tidbTransition(source, { phase: 'Pending', stage: undefined, step: undefined, at: '2024-05-02T09:00:00Z' }));
  assert.ok(first.skip === undefined);
  const doc: StatusDocument = first.document;

  test('render and parse round-trip', () => {
    assert.deepEqual(parseStatusDocument(renderStatusDocument(doc)), doc);
    assert.equal(parseStatusDocument('kind: Something\n'), undefined);
    assert.equal(parseStatusDocument('{{{'), undefined);
  });

  test('duplicate, stale and new rollouts', () => {
    const table: [Partial<Parameters<typeof tidbTransition>[1]>, string][] = [
      [{ phase: 'Pending', stage: undefined, step: undefined, at: '2024-05-02T09:00:00Z' }, 'duplicate'],
      [{ phase: 'Pending', stage: undefined, step: undefined, at: '2024-05-02T09:59:00Z' }, 'duplicate'], // the key has no time
      [{ at: '2024-05-02T09:01:00Z' }, 'write'],
      [{ planHash: 'plan-0', at: '2024-05-02T08:00:00Z' }, 'stale'],
      [{ planHash: 'plan-2', at: '2024-05-02T10:00:00Z' }, 'write'],
    ];
    for (const [overrides, want] of table) {
      const next = nextStatusDocument(doc, tidbTransition(source, overrides));
      assert.equal(next.skip ?? 'write', want, JSON.stringify(overrides));
    }
    const newPlan = nextStatusDocument(doc, tidbTransition(source, { planHash: 'plan-2', at: '2024-05-02T10:00:00Z' }));
    assert.ok(newPlan.skip === undefined);
    assert.equal(newPlan.document.transitions.length, 1, 'a new rollout starts a new list');
  });

  test('the last error stays after the rollout moves on; history keeps the newest entries', () => {
    let current: StatusDocument | undefined = doc;
    const halted = nextStatusDocument(current, tidbTransition(source, { phase: 'Halted', at: '2024-05-02T09:10:00Z', error: { code: 'gate-failed', message: 'tikv-1 not Ready' } }));
    assert.ok(halted.skip === undefined);
    current = halted.document;
    const resumed = nextStatusDocument(current, tidbTransition(source, { stage: 'tidb', step: 0, at: '2024-05-02T09:20:00Z', stages: tidbStages({ pd: 'done', tikv: 'done', tidb: 'running' }) }));
    assert.ok(resumed.skip === undefined);
    assert.deepEqual(resumed.document.lastError, { code: 'gate-failed', message: 'tikv-1 not Ready', at: '2024-05-02T09:10:00Z' });
    const capped = nextStatusDocument(resumed.document, tidbTransition(source, { stage: 'tidb', step: 1, at: '2024-05-02T09:30:00Z' }), 2);
    assert.ok(capped.skip === undefined);
    assert.deepEqual(
      capped.document.transitions.map((t) => `${t.phase} ${t.stage ?? ''} ${t.step ?? ''}`),
      ['Progressing tidb 0', 'Progressing tidb 1'],
    );
  });
});

describe('paths and checks', () => {
  test('status file paths, both ways', () => {
    const id = 'prod/tidb/TidbCluster/tidb';
    assert.equal(statusFilePath(id, { mode: 'branch' }), 'prod/tidb/TidbCluster/tidb.yaml');
    assert.equal(statusFilePath(id, { mode: 'inTree', path: './.rollgate/status/' }), '.rollgate/status/prod/tidb/TidbCluster/tidb.yaml');
    assert.equal(targetOfStatusPath('.rollgate/status/prod/tidb/TidbCluster/tidb.yaml', { mode: 'inTree', path: '.rollgate/status' }), id);
    assert.equal(targetOfStatusPath('prod/tidb/TidbCluster/tidb.yaml', { mode: 'inTree', path: '.rollgate/status' }), undefined);
    assert.equal(targetOfStatusPath('NOTES.md', { mode: 'branch' }), undefined);
  });

  test('transitions that cannot be written are refused with a reason', () => {
    const table: [Partial<Parameters<typeof tidbTransition>[1]>, RegExp][] = [
      [{ target: 'staging/tidb/TidbCluster' }, /is not cluster\/namespace\/kind\/name/],
      [{ target: 'staging/.hidden/TidbCluster/tidb', namespace: '.hidden' }, /is not cluster\/namespace\/kind\/name/],
      [{ planHash: 'a b' }, /plan hash "a b" is empty or has spaces/],
      [{ step: -1 }, /step -1 is not a 0-based index/],
      [{ stage: 'a\nb' }, /stage "a\\nb" is empty or spans lines/],
      [{ at: 'yesterday' }, /at "yesterday" is not an RFC 3339 time/],
      [{ phase: 'Dancing' as never }, /unknown phase "Dancing"/],
    ];
    for (const [overrides, message] of table) assert.throws(() => checkTransition(tidbTransition(source, overrides)), message);
    assert.doesNotThrow(() => checkTransition(tidbTransition(source)));
  });

  test('sanitize removes URL credentials and secrets from the environment', () => {
    const env = { PATH: '/usr/bin', GITHUB_TOKEN: 'ghp_abcdef', GIT_CONFIG_VALUE_0: 'Authorization: Bearer xyz123', HOME: '/home/agent', DB_PASSWORD: 'pa55word' };
    assert.deepEqual(secretsOf(env).sort(), ['Authorization: Bearer xyz123', 'ghp_abcdef', 'pa55word']);
    assert.equal(
      sanitize("fatal: unable to access 'https://x-access-token:ghp_abcdef@github.com/o/r.git/' with pa55word in /home/agent", secretsOf(env)),
      "fatal: unable to access 'https://***@github.com/o/r.git/' with *** in /home/agent",
    );
  });

  test('retry delays double to the cap, jittered in their upper half', () => {
    const policy = { baseMs: 1000, maxMs: 60_000 };
    const table: [number, number, number][] = [
      [0, 0, 500],
      [0, 0.999, 1000],
      [1, 0, 1000],
      [3, 0.5, 6000],
      [6, 0, 30_000],
      [10, 0.999, 59_970],
      [1e9, 1, 60_000],
    ];
    for (const [attempt, random, want] of table) assert.equal(retryDelay(attempt, policy, () => random), want, `attempt ${attempt} random ${random}`);
  });
});

describe('audit helpers', () => {
  test('diffVersions lists additions, moves and removals in order', () => {
    assert.deepEqual(diffVersions({ pd: 'v1', tikv: 'v1', old: 'v1' }, { pd: 'v2', tikv: 'v1', tidb: 'v2' }), [
      { component: 'pd', from: 'v1', to: 'v2' },
      { component: 'tidb', from: null, to: 'v2' },
      { component: 'old', from: 'v1', to: null },
    ]);
    assert.deepEqual(diffVersions(undefined, undefined), []);
  });

  test('formatVersionChanges groups components that moved alike', () => {
    assert.equal(
      formatVersionChanges([
        { component: 'pd', from: 'v1', to: 'v2' },
        { component: 'tikv', from: 'v1', to: 'v2' },
        { component: 'tidb', from: null, to: 'v2' },
      ]),
      'pd,tikv: v1 → v2; tidb: (none) → v2',
    );
    assert.equal(formatDate('2024-05-01T12:00:00+02:00'), '2024-05-01 10:00:00Z');
    assert.equal(formatDate('soon'), 'soon');
  });

  test('literalPrefix and manifestRelevance', () => {
    assert.deepEqual(['prod', './prod/', 'clusters/*/db', '**', 'a/b?/c'].map(literalPrefix), ['prod', 'prod', 'clusters', '', 'a']);
    const config = { clusters: [{ paths: ['staging'] }, { paths: ['prod/*'] }] } as unknown as RepositoryConfig;
    const relevant = manifestRelevance(config, [{ id: 'x', cluster: 'prod', namespace: 'n', kind: 'TidbCluster', name: 'x', files: ['prod/a/release.yaml', 'values/prod.yaml'] }], { mode: 'inTree', path: 'prod/status' });
    const table: [string, boolean][] = [
      ['rollgate.yaml', true],
      ['staging/tidb/db.yaml', true],
      ['stagingx/db.yaml', false],
      ['prod/a/b.yaml', true],
      ['values/prod.yaml', true],
      ['README.md', false],
      ['prod/status/staging/a/B/c.yaml', false],
    ];
    for (const [file, want] of table) assert.equal(relevant(file), want, file);
    assert.equal(manifestRelevance(undefined, [], undefined)('anything'), true);
  });

  test('signature codes', () => {
    assert.deepEqual(['G', 'U', 'X', 'Y', 'R', 'B', 'E', 'N', ''].map(signatureStatus), ['good', 'untrusted', 'expired', 'expired', 'revoked', 'bad', 'unverifiable', 'none', 'none']);
  });
});
