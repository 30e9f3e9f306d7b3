/**
 * Test helpers for kube-sim: an in-process simulation with its kubeconfig
 * in a temporary directory, kubectl run against it with an isolated HOME
 * and cache, and `eventually()` instead of sleeps.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Simulation, SimulationOptions } from '../../sim/simulation.ts';
import { startSimulation } from '../../sim/simulation.ts';

export interface SimFixture {
  sim: Simulation;
  dir: string;
  kubeconfigPath: string;
  /** Runs kubectl against the simulation; never throws on a non-zero exit. */
  kubectl(args: readonly string[], options?: { env?: Record<string, string>; input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Starts a long-running kubectl (e.g. `get -w`); stop it with `stop()`. */
  kubectlStream(args: readonly string[]): { output: () => string; stop: () => Promise<void> };
  close(): Promise<void>;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end; never throws on a non-zero exit. */
export function runCommand(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { env: options.env ?? process.env, timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Starts a simulation and writes its kubeconfig to a fresh temporary directory. */
export async function startSimFixture(options: SimulationOptions = {}): Promise<SimFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-sim-'));
  const sim = await startSimulation(options);
  const kubeconfigPath = join(dir, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfigPath);
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: dir,
    KUBECONFIG: kubeconfigPath,
    KUBECACHEDIR: join(dir, 'kube-cache'),
    ...extra,
  });
  return {
    sim,
    dir,
    kubeconfigPath,
    kubectl: (args, options = {}) =>
      runCommand('kubectl', args, { env: env(options.env), ...(options.input !== undefined ? { input: options.input } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) }),
    kubectlStream: (args) => {
      const child = spawn('kubectl', [...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      return {
        output: () => out,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      };
    },
    close: async () => {
      await sim.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Retries `check` until it stops throwing or `timeoutMs` passes, then
 * rethrows its last error. Tests wait on conditions, never on sleeps.
 */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
