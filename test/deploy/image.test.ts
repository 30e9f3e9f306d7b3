/**
 * What the image runs, without Docker: the entry point's module graph stays
 * inside the copied folders and loads production dependencies only; then
 * the runtime stage is rebuilt in a temporary directory (the files its
 * COPYs name, node_modules holding only the lock file's production
 * packages, as `npm ci --omit=dev` installs them, everything made
 * read-only) and the CLI is run there as the container would run it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, runCommand } from '../helpers/sim.ts';
import { execForm, parseDockerfile, readCopy, stagesOf, type Stage } from './docker.ts';
import { codeFilesUnder, moduleGraph, packageOf, runtimeImports } from './imports.ts';
import { containerEnv, containerUser, repoRoot, runNode } from './support.ts';

const runtime = stagesOf(parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))).at(-1) as Stage;
const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => readCopy(i));
/** Paths the runtime stage copies from the build context (files and folders). */
const copied = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
const entrypoint = execForm(runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT') ?? { keyword: '', args: '', line: 0 }) ?? [];
/** The script node runs: the argument after `node` in the ENTRYPOINT. */
const script = entrypoint[entrypoint.indexOf('node') + 1] ?? '';
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const production = new Set(Object.keys(pkg.dependencies));
const devOnly = new Set(Object.keys(pkg.devDependencies).filter((d) => !production.has(d)));

const insideCopied = (file: string): boolean => copied.some((c) => file === c || file.startsWith(`${c}/`));

describe('the image: module graph', () => {
  it('the ENTRYPOINT runs the CLI entry point', () => {
    assert.equal(script, 'agent/cli/main.ts');
  });

  it('every module the entry point (and the package bin) reaches, statically or by import(), is copied into the image', () => {
    const graph = moduleGraph(repoRoot, [script, 'bin/rollgate.js']);
    assert.deepEqual(graph.unresolved, [], 'relative imports that name no file');
    // The commands are loaded lazily; the graph must reach them, or this check proves little.
    for (const command of ['agent/cli/commands/plan.ts', 'agent/cli/commands/sim.ts', 'sim/simulation.ts']) assert.ok(graph.files.includes(command), `the graph reaches ${command}`);
    assert.deepEqual(graph.files.filter((f) => !insideCopied(f)), [], 'reached but not copied by the Dockerfile');
  });

  it('every package the image can load is a production dependency; none is only in devDependencies', () => {
    const graph = moduleGraph(repoRoot, [script, 'bin/rollgate.js']);
    const scanned = copied.flatMap((dir) => codeFilesUnder(repoRoot, dir)).flatMap((file) => runtimeImports(file, readFileSync(join(repoRoot, file), 'utf8')));
    const imports = [...graph.packageImports, ...scanned.flatMap((i) => { const packageName = packageOf(i.specifier); return packageName === undefined ? [] : [{ ...i, packageName }]; })];
    assert.ok(imports.some((i) => i.packageName === '@kubernetes/client-node'), 'the scan sees the agent’s package imports');
    const bad = imports.filter((i) => !production.has(i.packageName)).map((i) => `${i.file}:${i.line}: ${i.specifier} (${devOnly.has(i.packageName) ? 'devDependencies only' : 'not a dependency'})`);
    assert.deepEqual([...new Set(bad)], [], 'imports the image cannot satisfy');
  });

  it('schemas/ holds data only (JSON Schemas), nothing that imports', async () => {
    const entries = await readdir(join(repoRoot, 'schemas'), { recursive: true });
    const files = [];
    for (const e of entries) if ((await stat(join(repoRoot, 'schemas', e))).isFile()) files.push(e);
    assert.ok(files.length > 0);
    assert.deepEqual(files.filter((f) => !f.endsWith('.json')), []);
  });

  it('the import reader skips type-only imports, keeps `import { type A }` (Node still loads it) and literal import()', () => {
    const found = runtimeImports('x.ts', "import type { A } from 'typescript';\nexport type { B } from 'eslint';\nimport { type C } from 'yaml';\nexport * from './y.ts';\nconst m = await import('pino');\nconst n = await import(name);\n");
    assert.deepEqual(found.map((i) => `${i.line} ${i.kind} ${i.specifier}`), ['3 static yaml', '4 static ./y.ts', '5 dynamic pino']);
    assert.deepEqual(['node:fs', 'fs', '@a/b/c', 'd/e', './f.ts'].map(packageOf), [undefined, undefined, '@a/b', 'd', undefined]);
  });
});

describe('the image: its runtime stage, rebuilt without Docker', () => {
  let root: string;
  let app: string;
  let data: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'rollgate-image-'));
    app = join(root, 'app');
    data = join(root, 'data');
    // Traversable by the image's user, as / is in the container.
    await chmod(root, 0o755);
    await mkdir(app);
    await mkdir(data, { mode: 0o700 });
    const user = containerUser();
    if (user !== undefined) await chown(data, user.uid, user.gid);
    const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean; optional?: boolean }> };
    for (const copy of copies) {
      if (copy.from !== undefined) continue;
      for (const source of copy.sources) {
        const into = copy.destination.endsWith('/') || copy.sources.length > 1 ? join(app, copy.destination, source) : join(app, copy.destination);
        await cp(join(repoRoot, source), into, { recursive: true });
      }
    }
    // `COPY --from=build /app/node_modules`: what `npm ci --omit=dev` installs, the lock's production packages. Hard links
    // (the same files, in new folders) make the copy instant; nested packages come along with their parent and are checked below.
    const topLevel = Object.entries(lock.packages).filter(([path, entry]) => path !== '' && entry.dev !== true && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path));
    for (const [path, entry] of topLevel) {
      if (!existsSync(join(repoRoot, path))) {
        assert.ok(entry.optional === true, `${path} (production, not optional) is missing from node_modules: run npm ci`);
        continue;
      }
      await mkdir(dirname(join(app, path)), { recursive: true });
      // Hard links need the temporary directory on the repository's filesystem; elsewhere (a tmpfs /tmp), copy.
      const linked = await runCommand('cp', ['-al', join(repoRoot, path), join(app, path)]);
      const copied = linked.code === 0 ? linked : await runCommand('cp', ['-a', join(repoRoot, path), join(app, path)]);
      assert.equal(copied.code, 0, copied.stderr);
    }
    // Root owns /app in the image and the agent runs as another user. Run as root, this test copies as root and runs the
    // CLI as the image's user; else it takes write permission away from every folder and from the sources (not from
    // node_modules' files, which are the repository's own, linked).
    if (containerUser() === undefined) for (const args of [[app, '-path', join(app, 'node_modules'), '-prune', '-o', '-type', 'f', '-exec', 'chmod', 'a-w', '{}', '+'], [app, '-type', 'd', '-exec', 'chmod', 'a-w', '{}', '+']]) {
      const locked = await runCommand('find', args);
      assert.equal(locked.code, 0, locked.stderr);
    }
  });

  after(async () => {
    if (root === undefined) return;
    await runCommand('find', [app, '-type', 'd', '-exec', 'chmod', 'u+w', '{}', '+']);
    await rm(root, { recursive: true, force: true });
  });

  it('holds every production package of the lock at its version, and none of the development tools', async () => {
    const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean; optional?: boolean }> };
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '') continue;
      const manifest = join(app, path, 'package.json');
      if (entry.dev === true) {
        assert.equal(existsSync(manifest), false, `${path} is a development package, not in the image`);
        continue;
      }
      if (!existsSync(manifest) && entry.optional === true) continue;
      const installed = JSON.parse(await readFile(manifest, 'utf8')) as { version?: string };
      assert.equal(installed.version, entry.version, `${path} is in the image at the locked version`);
    }
    // A devDependency that a production package also needs (as @types/node is for client-node) is installed anyway; the tools are not.
    const tools = [...devOnly].filter((name) => lock.packages[`node_modules/${name}`]?.dev === true);
    assert.ok(tools.includes('typescript') && tools.includes('eslint'), `the development tools are dev-only in the lock: ${tools.join(', ')}`);
    for (const name of tools) assert.equal(existsSync(join(app, 'node_modules', name)), false, `${name} (a development tool) is not in the image`);
    for (const name of production) assert.ok(existsSync(join(app, 'node_modules', name, 'package.json')), `${name} is in the image`);
  });

  it('`node agent/cli/main.ts --help` prints the usage and exits 0, in the repository and in the image', async () => {
    for (const [cwd, user] of [[repoRoot, undefined], [app, containerUser()]] as const) {
      const r = await runNode(cwd, data, [script, '--help'], user);
      assert.equal(r.code, 0, `${cwd}: ${r.stderr}`);
      assert.match(r.stdout, /^usage: rollgate <command>/);
      assert.equal(r.stderr, '');
    }
  });

  it('the app is read-only to the process, the data directory writable', async () => {
    const probe = "const fs = require('node:fs'); for (const d of process.argv.slice(1)) { try { fs.writeFileSync(d + '/probe', ''); fs.rmSync(d + '/probe'); console.log(d, 'writable'); } catch (e) { console.log(d, e.code); } }";
    const r = await runNode(app, data, ['-e', probe, app, join(app, 'agent'), join(app, 'node_modules'), data], containerUser());
    assert.equal(r.stdout, `${app} EACCES\n${join(app, 'agent')} EACCES\n${join(app, 'node_modules')} EACCES\n${data} writable\n`, r.stderr);
  });

  it('`validate examples-repo` loads the schemas and passes', async () => {
    const r = await runNode(app, data, [script, 'validate', 'examples-repo'], containerUser());
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('`sim` (what `rollgate demo` runs on) starts with production dependencies only and stops on SIGTERM', async () => {
    const kubeconfig = join(data, 'kubeconfig');
    const child = spawn(process.execPath, [script, 'sim', '--port', '0', '--kubeconfig-out', kubeconfig], { cwd: app, env: containerEnv(data), ...(containerUser() ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await eventually(() => assert.ok(existsSync(kubeconfig), `no kubeconfig yet; output: ${output}`), 30_000);
      assert.match(await readFile(kubeconfig, 'utf8'), /server: https:\/\/127\.0\.0\.1:\d+\/clusters\//);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
  });
});
