/** The pure parts of the forge stage, in tables: markers, commands, the rollout's status and comment. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { approvalCovers, parseCommands, phaseState, rolloutMarkdown, rolloutStatus } from '../../../agent/report/forge/index.ts';
import { contentHash, findMarker, isRollgateComment, markedBody, sameContent } from '../../../agent/report/forge/marker.ts';
import { gitlabQuery, snakeCase } from '../../../agent/report/forge/gitlab-requester.ts';
import { statusDescription } from '../../../agent/report/forge/provider.ts';
import { mergeSha, transition } from './transitions.ts';

describe('comment markers', () => {
  it('hash the content and find it again, whatever the forge did to line endings', () => {
    const body = markedBody('plan', 'line one\nline two\n');
    assert.match(body, /^<!-- rollgate:plan sha256:[0-9a-f]{16} -->\nline one/);
    assert.equal(findMarker(body, 'plan')?.hash, contentHash('line one\nline two\n'));
    assert.ok(sameContent(body.replace(/\n/g, '\r\n'), 'plan', 'line one\nline two\n'));
    assert.ok(!sameContent(body, 'plan', 'line one\n'));
    assert.equal(findMarker(body, 'rollout'), undefined);
    assert.equal(findMarker('rollgate:plan in prose', 'plan'), undefined);
    assert.ok(isRollgateComment(markedBody('reply:123', '@bob no')));
    assert.ok(!isRollgateComment('/rollgate approve'));
    assert.throws(() => markedBody('Plan Comment', 'x'), /not a rollgate comment marker key/);
  });
});

describe('commands', () => {
  const table: [string, ReturnType<typeof parseCommands>][] = [
    ['/rollgate approve', [{ kind: 'approve' }]],
    ['LGTM\n/rollgate approve prod/db/TidbCluster/basic\n', [{ kind: 'approve', target: 'prod/db/TidbCluster/basic' }]],
    ['  /rollgate hold  ', [{ kind: 'hold' }]],
    ['/rollgate resume\r\n/rollgate approve', [{ kind: 'resume' }, { kind: 'approve' }]],
    ['> /rollgate approve', []],
    ['please /rollgate approve', []],
    ['/rollgateapprove', []],
    ['/rollgate deploy now', [{ kind: 'unknown', text: '/rollgate deploy now' }]],
    ['/rollgate hold everything', [{ kind: 'unknown', text: '/rollgate hold everything' }]],
    ['/rollgate', [{ kind: 'unknown', text: '/rollgate' }]],
  ];
  for (const [body, want] of table) it(JSON.stringify(body), () => assert.deepEqual(parseCommands(body), want));

  it('match approvals to targets by trailing segments', () => {
    const id = 'prod/db/TidbCluster/basic';
    assert.deepEqual(
      [undefined, 'basic', 'tidbcluster/basic', 'db/TidbCluster/basic', id, 'other', 'db/basic', 'staging/db/TidbCluster/basic', `x/${id}`].map((n) => approvalCovers(n, id)),
      [true, true, true, true, true, false, false, false, false],
    );
  });
});

describe('rollout status and comment', () => {
  it('map phases to neutral states', () => {
    assert.deepEqual(
      (['Pending', 'Progressing', 'Waiting', 'Suspended', 'Succeeded', 'Halted', 'Refused', 'Superseded'] as const).map(phaseState),
      ['pending', 'pending', 'pending', 'pending', 'success', 'failure', 'failure', 'error'],
    );
  });

  it('take the worst state over targets', () => {
    const other = (phase: Parameters<typeof transition>[0]) => transition(phase, 1, { target: 'prod/cache/RedisEnterpriseCluster/rec' });
    assert.equal(rolloutStatus([transition('Succeeded', 1), other('Progressing')]).state, 'pending');
    assert.equal(rolloutStatus([transition('Halted', 1), other('Progressing')]).state, 'failure');
    assert.equal(rolloutStatus([transition('Superseded', 1), other('Succeeded')]).state, 'error');
    assert.deepEqual(rolloutStatus([transition('Succeeded', 1), other('Succeeded')]), { state: 'success', description: 'Rolled out: 2 targets match Git' });
  });

  it('cut status descriptions to 140 characters', () => {
    assert.equal(statusDescription('x'.repeat(200)).length, 140);
    assert.equal(statusDescription('a\n b'), 'a b');
  });

  it('render the same transitions to the same bytes, in target order', () => {
    const a = transition('Progressing', 1);
    const b = transition('Waiting', 2, { target: 'prod/cache/RedisEnterpriseCluster/rec', waitingFor: { gate: 'maintenanceWindow', description: 'maintenance window "0 2 * * *" (UTC)', until: '2026-11-21T02:00:00.000Z' } });
    const text = rolloutMarkdown(mergeSha, [a, b]);
    assert.equal(text, rolloutMarkdown(mergeSha, [b, a]));
    assert.ok(text.indexOf('RedisEnterpriseCluster/rec') < text.indexOf('TidbCluster/basic'));
    assert.match(text, /> \*\*Waiting\*\* for maintenance window "0 2 \* \* \*" \(UTC\) until 2026-11-21T02:00:00\.000Z\. It starts by itself when the window opens\./);
    assert.match(text, /\| pd \| v7\.5\.1 → v8\.1\.0 \| 3\/3 \| :white_check_mark: done \|/);
  });
});

describe('GitLab query strings', () => {
  it('use snake_case and brackets for arrays, and skip absent values', () => {
    assert.equal(snakeCase('targetBranch'), 'target_branch');
    assert.equal(gitlabQuery({ state: 'opened', targetBranch: 'main', perPage: 100, labels: ['a', 'b'], none: undefined, all: true }), 'state=opened&target_branch=main&per_page=100&labels%5B%5D=a&labels%5B%5D=b&all=true');
  });
});
