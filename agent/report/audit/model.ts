/**
 * What `rollgate audit` reports, as data: the shape of its JSON output
 * (`--format json`), which the table renders.
 *
 * ```jsonc
 * {
 *   "repository": "…",                 // as given, credentials removed
 *   "branch": "main",                  // the tracked branch audited
 *   "head": "<sha>",
 *   "status": { "mode": "branch", "branch": "rollgate/status", "found": true }
 *          // or { "mode": "inTree", "path": ".rollgate/status", "found": true }
 *   "targets": [{
 *     "id": "staging/tidb/TidbCluster/tidb", "cluster": "…", "namespace": "…", "kind": "…", "name": "…",
 *     "changes": [{                    // commits that changed the target's desired versions, oldest first
 *       "commit": "<sha>", "author": { "name": "…", "email": "…" }, "date": "<ISO 8601>",
 *       "signature": { "status": "good", "code": "G", "signer": "…" },
 *       "versions": [{ "component": "pd", "from": "v7.5.1", "to": "v7.5.2" }],   // from/to null: absent
 *       "problems": ["file:line:col: message"],   // the manifest was invalid at this commit
 *       "rollout": { … } | null        // the rollout of this commit, as in "rollouts"
 *     }],
 *     "rollouts": [{                   // every rollout of the target found in status, by start
 *       "source": "<sha>" | null, "startedAt": "…", "finishedAt": "…" | null, "durationSeconds": 42 | null,
 *       "outcome": "Succeeded",        // the phase of its last transition
 *       "transitions": 7,
 *       "halts": [{ "at": "…", "stage": "tikv", "step": 1, "code": "…", "message": "…" }]   // step 0-based
 *     }]
 *   }],
 *   "problems": [{                     // invalid commits whose problems concern no known target
 *     "commit": "<sha>", "author": {…}, "date": "…", "problems": ["file:line:col: message"]
 *   }]
 * }
 * ```
 */
import type { RolloutPhase } from '../../rollout/reporter.ts';

/** A signature as a person reads it, from git's `%G?`. */
export type SignatureStatus = 'good' | 'untrusted' | 'expired' | 'revoked' | 'bad' | 'unverifiable' | 'none';

/** `%G?` → {@link SignatureStatus}. */
export function signatureStatus(code: string): SignatureStatus {
  switch (code) {
    case 'G':
      return 'good';
    case 'U':
      return 'untrusted';
    case 'X':
    case 'Y':
      return 'expired';
    case 'R':
      return 'revoked';
    case 'B':
      return 'bad';
    case 'E':
      return 'unverifiable';
    default:
      return 'none';
  }
}

export interface AuditAuthor {
  readonly name: string;
  readonly email: string;
}

/** One component's desired version before and after a commit; null when absent. */
export interface VersionChange {
  readonly component: string;
  readonly from: string | null;
  readonly to: string | null;
}

/** A halt of a rollout, from its status. */
export interface AuditHalt {
  /** RFC 3339. */
  readonly at: string;
  readonly stage: string | null;
  /** 0-based. */
  readonly step: number | null;
  readonly code: string | null;
  readonly message: string;
}

/** One rollout of one source commit to one target, from the status rollgate wrote. */
export interface AuditRollout {
  readonly source: string | null;
  /** RFC 3339. */
  readonly startedAt: string;
  /** RFC 3339; null while it runs. */
  readonly finishedAt: string | null;
  /** Whole seconds from start to finish; null while it runs. */
  readonly durationSeconds: number | null;
  /** The phase of its last transition. */
  readonly outcome: RolloutPhase;
  /** Status commits written for it. */
  readonly transitions: number;
  readonly halts: readonly AuditHalt[];
}

/** A commit that changed a target's desired versions, or made its manifest invalid. */
export interface AuditChange {
  readonly commit: string;
  readonly author: AuditAuthor;
  /** Author date, strict ISO 8601. */
  readonly date: string;
  readonly signature: { readonly status: SignatureStatus; readonly code: string; readonly signer: string | null };
  /** Empty when the row is about problems only. */
  readonly versions: readonly VersionChange[];
  /** `file:line:col: message` for each problem new at this commit in the target's files. */
  readonly problems: readonly string[];
  readonly rollout: AuditRollout | null;
}

export interface AuditTarget {
  readonly id: string;
  readonly cluster: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  readonly changes: readonly AuditChange[];
  readonly rollouts: readonly AuditRollout[];
}

/** A commit at which the repository was invalid in a way no single target accounts for (rollgate.yaml, a new file). */
export interface AuditProblemCommit {
  readonly commit: string;
  readonly author: AuditAuthor;
  readonly date: string;
  readonly problems: readonly string[];
}

/** The whole audit; see the module comment for its JSON form. */
export interface AuditReport {
  readonly repository: string;
  readonly branch: string;
  readonly head: string;
  readonly status: { readonly mode: 'branch'; readonly branch: string; readonly found: boolean } | { readonly mode: 'inTree'; readonly path: string; readonly found: boolean };
  readonly targets: readonly AuditTarget[];
  readonly problems: readonly AuditProblemCommit[];
}
