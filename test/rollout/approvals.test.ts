/** File approvals and the union of approval sources, without a cluster. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anyApproval, createFileApprovals } from '../../agent/rollout/approvals.ts';
import type { ApprovalSource } from '../../agent/rollout/gates.ts';

const gate = (file?: string) => ({ kind: 'approval' as const, comment: file === undefined, ...(file !== undefined ? { file } : {}) });
const request = (source: string, file?: string) => ({ target: 'prod/db/TidbCluster/oltp', source, stage: 'tikv', gate: gate(file) });

describe('file approvals', () => {
  it('approve a revision that changed the file, or a file under the folder it names', async () => {
    const approvals = createFileApprovals();
    approvals.setRevision('a', ['approvals/prod-tidb', 'prod/tidb.yaml']);
    approvals.setRevision('b', ['approvals/prod/oltp.txt']);
    assert.equal(await approvals.isApproved(request('a', 'approvals/prod-tidb')), true);
    assert.equal(await approvals.isApproved(request('b', 'approvals/prod/')), true);
    assert.equal(await approvals.isApproved(request('b', 'approvals/prod-tidb')), false);
    assert.equal(await approvals.isApproved(request('a', 'approvals/prod')), false, 'a prefix of a name is not a folder');
  });

  it('do not approve an unknown revision, a revision whose changes are unknown, or a comment-only gate', async () => {
    const approvals = createFileApprovals();
    approvals.setRevision('first', 'all');
    assert.equal(await approvals.isApproved(request('first', 'approvals/prod-tidb')), false);
    assert.equal(await approvals.isApproved(request('never-seen', 'approvals/prod-tidb')), false);
    approvals.setRevision('c', ['approvals/prod-tidb']);
    assert.equal(await approvals.isApproved(request('c')), false);
  });

  it('tell listeners about each revision, and forget the oldest beyond sixteen', async () => {
    const approvals = createFileApprovals();
    let calls = 0;
    const off = approvals.onChange(() => calls++);
    for (let i = 0; i < 17; i++) approvals.setRevision(`r${i}`, ['approvals/x']);
    off();
    approvals.setRevision('late', ['approvals/x']);
    assert.equal(calls, 17);
    assert.equal(await approvals.isApproved(request('r0', 'approvals/x')), false);
    assert.equal(await approvals.isApproved(request('r16', 'approvals/x')), true);
  });
});

describe('anyApproval', () => {
  const fixed = (approved: boolean, held: boolean | undefined): ApprovalSource & { fire(): void } => {
    const listeners = new Set<() => void>();
    return {
      isApproved: () => Promise.resolve(approved),
      ...(held !== undefined ? { isHeld: () => Promise.resolve(held) } : {}),
      onChange(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      fire: () => listeners.forEach((l) => l()),
    };
  };

  it('approves when one source does and holds when one source does', async () => {
    assert.equal(await anyApproval(fixed(false, undefined), fixed(true, false)).isApproved(request('a')), true);
    assert.equal(await anyApproval(fixed(false, undefined), fixed(false, false)).isApproved(request('a')), false);
    assert.equal(await anyApproval(fixed(false, undefined), fixed(false, true)).isHeld?.({ target: 't', source: 'a' }), true);
    assert.equal(await anyApproval(fixed(false, undefined)).isHeld?.({ target: 't', source: 'a' }), false);
  });

  it('passes on changes of every source until unsubscribed', () => {
    const a = fixed(false, undefined);
    const b = fixed(false, undefined);
    let calls = 0;
    const off = anyApproval(a, b).onChange(() => calls++);
    a.fire();
    b.fire();
    off();
    a.fire();
    assert.equal(calls, 2);
  });
});
