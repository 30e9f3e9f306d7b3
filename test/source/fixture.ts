/**
 * Shared set-up of the source tests: a git server on loopback with one
 * repository, a work directory, a manual clock, and a pino logger whose
 * output is kept in memory so tests can read every line it wrote.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, PollResult } from '../../agent/source/index.ts';
import type { GitHttpServer, ServerAuth, TestRepository } from '../helpers/git-server.ts';
import { createTestRepository, startGitHttpServer, testGitEnv } from '../helpers/git-server.ts';

/** A clock that moves only when told; its timers fire in `advance`. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
  /** Timers set and not yet fired or cleared. */
  pending(): number;
}

export function manualClock(start = Date.UTC(2026, 0, 1, 0, 0, 0)): ManualClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout: (callback, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, ms), callback });
      return id;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
    advance: (ms) => {
      const end = now + ms;
      for (;;) {
        let first: [number, { at: number; callback: () => void }] | undefined;
        for (const entry of timers) if (entry[1].at <= end && (first === undefined || entry[1].at < first[1].at)) first = entry;
        if (first === undefined) break;
        timers.delete(first[0]);
        now = first[1].at;
        first[1].callback();
      }
      now = end;
    },
    pending: () => timers.size,
  };
}


export interface SourceFixture {
  server: GitHttpServer;
  repo: TestRepository;
  /** A fresh work directory for a source (not created: the source creates it). */
  workDir: string;
  /** The environment sources are given: the tests' git environment, no proxy. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A server with `repo.git` holding one commit of `files` on `main`, pushed. */
export async function startSourceFixture(options: { auth?: ServerAuth; files?: Record<string, string> } = {}): Promise<SourceFixture & { first: string }> {
  const server = await startGitHttpServer(options.auth !== undefined ? { auth: options.auth } : {});
  const repo = await createTestRepository(server.root);
  await repo.write(options.files ?? { 'rollgate.yaml': 'apiVersion: rollgate.dev/v1alpha1\nkind: Config\n', 'prod/app.yaml': 'kind: StatefulSet\n' });
  const first = await repo.commit('first');
  await repo.push();
  const base = await mkdtemp(join(tmpdir(), 'rollgate-source-'));
  return {
    server,
    repo,
    first,
    workDir: join(base, 'work'),
    env: testGitEnv(),
    close: async () => {
      await server.close();
      await rm(repo.workDir, { recursive: true, force: true });
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** Asserts that a poll had the given outcome, and narrows it. */
export function expectPoll<T extends PollResult['type']>(result: PollResult, type: T): Extract<PollResult, { type: T }> {
  if (result.type !== type) assert.fail(`expected a '${type}' poll, got ${JSON.stringify(result)}${result.type === 'failed' ? `: ${result.error.message}` : ''}`);
  return result as Extract<PollResult, { type: T }>;
}

export { memoryLogger } from '../helpers/memory-logger.ts';
