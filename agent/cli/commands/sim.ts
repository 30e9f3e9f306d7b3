/**
 * `rollgate sim`: serves kube-sim on 127.0.0.1 until stopped.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ImageCatalogue } from '../../../sim/images.ts';
import { ImageCatalogueError, parseImageCatalogue } from '../../../sim/images.ts';
import type { KubeObject } from '../../../sim/api/object.ts';
import { readManifestDirectory } from '../../../sim/load-dir.ts';
import { InvalidRepositoryError, clusterObjects, configFile, formatProblemLine } from '../../manifests/index.ts';
import { startSimulation } from '../../../sim/simulation.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';

const usage = 'usage: rollgate sim [--port N] [--kubeconfig-out FILE] [--load DIR] [--time-scale X] [--images FILE] [--seed N] [--cluster NAME]...';

function parsePort(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, got "${raw}"\n${usage}`);
  return port;
}

function parseScale(raw: string | undefined): number {
  if (raw === undefined) return 1;
  const scale = Number(raw);
  if (!Number.isFinite(scale) || scale <= 0) throw new UsageError(`--time-scale must be a positive number, got "${raw}"\n${usage}`);
  return scale;
}

function parseSeed(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError(`--seed must be a whole number from 0 to 4294967295, got "${raw}"\n${usage}`);
  return seed;
}

/** Reads the `--images` catalogue; its problems become one usage error. */
async function readImages(file: string): Promise<ImageCatalogue> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`--images: cannot read ${file}`);
  }
  try {
    return parseImageCatalogue(text);
  } catch (err) {
    if (err instanceof ImageCatalogueError) throw new UsageError(`--images ${file}: ${err.problems.join('; ')}`);
    throw err;
  }
}

export const sim: Command = async (argv, io) => {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string' },
        'kubeconfig-out': { type: 'string' },
        load: { type: 'string' },
        'time-scale': { type: 'string' },
        images: { type: 'string' },
        seed: { type: 'string' },
        cluster: { type: 'string', multiple: true },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usage}`);
  }
  const port = parsePort(values.port);
  const timeScale = parseScale(values['time-scale']);
  const loadDir = values.load === undefined ? undefined : resolve(io.cwd, values.load);
  if (loadDir !== undefined && !existsSync(loadDir)) throw new UsageError(`--load: no such directory: ${values.load ?? ''}`);

  const seed = parseSeed(values.seed);
  const images = values.images === undefined ? undefined : await readImages(resolve(io.cwd, values.images));

  const toLoad = loadDir === undefined ? undefined : await readLoadDirectory(loadDir);
  if (toLoad && toLoad.problems.length > 0) {
    // Nothing half-loaded: a directory with problems starts no simulation.
    for (const problem of toLoad.problems) io.stderr.write(`${problem}\n`);
    io.stderr.write(`rollgate sim: --load ${values.load ?? ''}: ${toLoad.problems.length} problem(s); nothing was started\n`);
    return 1;
  }
  const clusters = [...(toLoad?.clusters.map((c) => c.name).filter((n) => n !== '') ?? []), ...(values.cluster ?? [])];
  // For people and kubectl the cluster is alive: controllers, scheduler and kubelets run.
  const simulation = await startSimulation({ port, timeScale, clusters, controllers: true, ...(images ? { images } : {}), ...(seed !== undefined ? { seed } : {}) });
  for (const { name: named, objects } of toLoad?.clusters ?? []) {
    const name = named || simulation.cluster().name;
    const report = simulation.load(name, objects);
    if (report.errors.length > 0) {
      for (const error of report.errors) io.stderr.write(`load into ${name}: ${error}\n`);
      await simulation.close();
      return 1;
    }
    io.stdout.write(`loaded ${report.created.length} objects into cluster ${name}\n`);
  }
  if (values['kubeconfig-out']) await simulation.writeKubeconfig(resolve(io.cwd, values['kubeconfig-out']));
  io.stdout.write(`kube-sim listening on https://127.0.0.1:${simulation.port} (clusters: ${[...simulation.clusters.keys()].join(', ')}; time scale ${timeScale})\n`);
  if (values['kubeconfig-out']) io.stdout.write(`kubeconfig written to ${values['kubeconfig-out']}\n`);
  await io.stopped;
  await simulation.close();
  return 0;
};

interface LoadPlan {
  clusters: { name: string; objects: readonly KubeObject[] }[];
  problems: string[];
}

/**
 * What `--load DIR` creates: a rollgate repository (one with rollgate.yaml)
 * gives one cluster per cluster it names, each with its own manifests; any
 * other directory gives every manifest to one cluster, `sim` unless
 * `--cluster` names others (then the first).
 */
async function readLoadDirectory(dir: string): Promise<LoadPlan> {
  if (existsSync(join(dir, configFile))) {
    try {
      const { clusters } = await clusterObjects(dir);
      return { clusters: clusters.map((c) => ({ name: c.name, objects: c.objects as unknown as KubeObject[] })), problems: [] };
    } catch (err) {
      if (err instanceof InvalidRepositoryError) return { clusters: [], problems: err.problems.map((p) => formatProblemLine(p)) };
      throw err;
    }
  }
  const manifests = await readManifestDirectory(dir);
  return { clusters: [{ name: '', objects: manifests.objects }], problems: manifests.problems };
}
