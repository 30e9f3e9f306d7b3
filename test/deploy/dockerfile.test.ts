/**
 * The Dockerfile, checked without Docker (no engine exists where rollgate
 * is built and tested): its stages, base image, user, copies and
 * entrypoint, and the build context .dockerignore leaves. The readers in
 * docker.ts get table tests of their own at the end.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DockerfileError, dockerignore, execForm, parseDockerfile, readCopy, stagesOf, type Instruction, type Stage } from './docker.ts';
import { repoRoot } from './support.ts';

const dockerfileText = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const stages = stagesOf(parseDockerfile(dockerfileText));
const ignored = dockerignore(readFileSync(join(repoRoot, '.dockerignore'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

function stage(name: string): Stage {
  const found = stages.find((s) => s.name === name);
  assert.ok(found, `the Dockerfile has a stage named ${name} (has: ${stages.map((s) => s.name ?? '(unnamed)').join(', ')})`);
  return found;
}

function only(s: Stage, keyword: string): Instruction {
  const found = s.instructions.filter((i) => i.keyword === keyword);
  assert.equal(found.length, 1, `stage ${s.name ?? ''} has exactly one ${keyword} (lines ${found.map((i) => i.line).join(', ')})`);
  return found[0] as Instruction;
}

describe('Dockerfile: stages and base image', () => {
  it('has a build stage and a runtime stage, the runtime last (what `docker build` outputs)', () => {
    assert.deepEqual(stages.map((s) => s.name), ['build', 'runtime']);
  });

  it('both stages use the official Node image at the version package.json pins, never a floating tag', () => {
    const pinned = pkg.devDependencies['node'];
    assert.ok(pinned !== undefined && /^\d+\.\d+\.\d+$/.test(pinned), `devDependencies.node is an exact version, got ${String(pinned)}`);
    for (const s of stages) {
      const m = /^node:(\d+\.\d+\.\d+)-bookworm-slim(@sha256:[0-9a-f]{64})?$/.exec(s.image);
      assert.ok(m, `Dockerfile:${s.line}: FROM ${s.image} is node:<exact version>-bookworm-slim, optionally with a digest`);
      assert.equal(m[1], pinned, `Dockerfile:${s.line}: the image's Node matches devDependencies.node`);
      assert.doesNotMatch(s.image, /latest/);
    }
    assert.equal(new Set(stages.map((s) => s.image)).size, 1, 'the dependencies are installed on the Node that runs them');
  });
});

describe('Dockerfile: build stage', () => {
  it('installs production dependencies from the lock file only, with the lock copied first', () => {
    const build = stage('build');
    const install = build.instructions.find((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    assert.ok(install, 'the build stage runs npm ci (the lock file, exactly)');
    assert.match(install.args, /--omit=dev\b/);
    const copy = build.instructions.filter((i) => i.keyword === 'COPY' && i.line < install.line).map((i) => readCopy(i));
    assert.deepEqual(copy.flatMap((c) => c.sources).sort(), ['package-lock.json', 'package.json']);
  });

  it('--ignore-scripts is safe: no production dependency in the lock has an install script', () => {
    const install = stage('build').instructions.find((i) => /\bnpm ci\b/.test(i.args));
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev !== true && p.hasInstallScript === true).map(([path]) => path);
    assert.match(install?.args ?? '', /--ignore-scripts\b/, 'no dependency code runs while the image is built');
    assert.deepEqual(withScripts, [], 'these production packages need their install scripts: drop --ignore-scripts');
  });
});

describe('Dockerfile: runtime stage', () => {
  const runtime = stage('runtime');

  it('installs git, openssh-client and CA certificates without recommends, and leaves no apt lists', () => {
    const apt = runtime.instructions.find((i) => i.keyword === 'RUN' && /apt-get install/.test(i.args));
    assert.ok(apt, 'the runtime stage installs packages with apt-get');
    assert.match(apt.args, /apt-get update/, 'update and install in one layer, so the index is never stale');
    assert.match(apt.args, /--no-install-recommends/);
    for (const name of ['git', 'openssh-client', 'ca-certificates']) assert.match(apt.args, new RegExp(`\\s${name}(\\s|$)`), `installs ${name}`);
    assert.match(apt.args, /rm -rf \/var\/lib\/apt\/lists\/\*/);
  });

  it('runs as the numeric non-root user 10001, created with that uid, whose home is the data directory', () => {
    const user = only(runtime, 'USER');
    assert.match(user.args, /^10001(:10001)?$/, 'numeric, so the kubelet can check runAsNonRoot');
    const userAdd = runtime.instructions.find((i) => i.keyword === 'RUN' && /useradd/.test(i.args));
    assert.ok(userAdd);
    assert.match(userAdd.args, /--uid 10001\b/);
    assert.match(userAdd.args, /--home-dir \/var\/lib\/rollgate\b/);
    assert.ok(runtime.instructions.filter((i) => i.keyword === 'RUN').every((i) => i.line < user.line), 'nothing runs after the switch to the unprivileged user');
  });

  it('copies everything as root into /app (read-only to the agent); only /var/lib/rollgate is given to the user, as a volume', () => {
    assert.equal(only(runtime, 'WORKDIR').args, '/app');
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => readCopy(i));
    assert.ok(copies.length > 0);
    for (const copy of copies) assert.equal(copy.chown, undefined, `Dockerfile:${copy.line}: COPY --chown would let the agent change its own code`);
    const chowns = runtime.instructions.filter((i) => i.keyword === 'RUN').flatMap((i) => [...i.args.matchAll(/chown\s+(?:-\S+\s+)*\S+\s+(\S+)/g)].map((m) => m[1]));
    assert.deepEqual(chowns, ['/var/lib/rollgate']);
    const volume = execForm(only(runtime, 'VOLUME'));
    assert.deepEqual(volume, ['/var/lib/rollgate']);
  });

  it('copies only paths that exist in the repository and that .dockerignore keeps; --from names an earlier stage', () => {
    for (const copy of stage('runtime').instructions.filter((i) => i.keyword === 'COPY').map((i) => readCopy(i))) {
      if (copy.from !== undefined) {
        assert.ok(stages.some((s) => s.name === copy.from && s.line < copy.line), `Dockerfile:${copy.line}: --from=${copy.from} is an earlier stage`);
        continue;
      }
      for (const source of copy.sources) {
        assert.ok(existsSync(join(repoRoot, source)), `Dockerfile:${copy.line}: COPY source ${source} exists`);
        assert.equal(ignored(source), false, `Dockerfile:${copy.line}: .dockerignore leaves ${source} out of the build context`);
      }
    }
  });

  it('sets NODE_ENV=production, HOME and TMPDIR to the data directory, exposes the ops port 8080', () => {
    const env = Object.fromEntries(runtime.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => i.args.split(/\s+/).map((kv) => kv.split('=', 2) as [string, string])));
    assert.equal(env['NODE_ENV'], 'production');
    assert.equal(env['HOME'], '/var/lib/rollgate');
    assert.equal(env['TMPDIR'], '/var/lib/rollgate');
    assert.equal(only(runtime, 'EXPOSE').args, '8080');
  });

  it('enters through tini into `node agent/cli/main.ts` (no build step), and runs `run --config /etc/rollgate/config.yaml` by default', () => {
    const entrypoint = execForm(only(runtime, 'ENTRYPOINT'));
    assert.deepEqual(entrypoint, ['/usr/bin/tini', '--', 'node', 'agent/cli/main.ts']);
    assert.match(runtime.instructions.find((i) => /apt-get install/.test(i.args))?.args ?? '', /\stini(\s|$)/, 'tini is installed');
    assert.deepEqual(execForm(only(runtime, 'CMD')), ['run', '--config', '/etc/rollgate/config.yaml']);
  });
});

describe('.dockerignore', () => {
  it('leaves out node_modules (anywhere), .git, tests, benchmarks and deploy/ from the build context', () => {
    for (const path of ['node_modules', 'node_modules/yaml/package.json', 'sim/node_modules/x', '.git', '.git/HEAD', 'test', 'test/deploy/rbac.test.ts', 'bench', 'deploy/deployment.yaml', 'debug.log']) assert.equal(ignored(path), true, path);
  });

  it('keeps what the image copies', () => {
    for (const path of ['package.json', 'package-lock.json', 'agent/cli/main.ts', 'sim/simulation.ts', 'schemas/v1alpha1/config.schema.json', 'bin/rollgate.js', 'examples-repo/rollgate.yaml']) assert.equal(ignored(path), false, path);
  });
});

describe('the Dockerfile and .dockerignore readers', () => {
  it('joins continuations, skips comments and blank lines (also inside a continued RUN), keeps line numbers', () => {
    const parsed = parseDockerfile('# syntax=docker/dockerfile:1\nFROM a:1 AS x\n\nRUN one \\\n  # a comment\n\n  && two\nCMD ["a", "b"]\nUSER 1 \\\n');
    assert.deepEqual(parsed, [
      { keyword: 'FROM', args: 'a:1 AS x', line: 2 },
      { keyword: 'RUN', args: 'one && two', line: 4 },
      { keyword: 'CMD', args: '["a", "b"]', line: 8 },
      { keyword: 'USER', args: '1', line: 9 },
    ]);
    assert.deepEqual(execForm(parsed[2] as Instruction), ['a', 'b']);
    assert.equal(execForm(parsed[1] as Instruction), undefined);
  });

  it('names the file and line of what it cannot read', () => {
    assert.throws(() => parseDockerfile('FROM a\n"oops"\n', 'Dockerfile'), (err: unknown) => err instanceof DockerfileError && err.message === 'Dockerfile:2: expected an instruction, got "\\"oops\\""');
    assert.throws(() => stagesOf(parseDockerfile('RUN x\nFROM a\n')), /Dockerfile:1: RUN before the first FROM/);
    assert.throws(() => readCopy({ keyword: 'COPY', args: '--from=build', line: 9 }), /Dockerfile:9: COPY needs a source and a destination/);
  });

  it('reads COPY flags, sources and destination', () => {
    assert.deepEqual(readCopy({ keyword: 'COPY', args: '--from=build --chown=1:1 a b ./', line: 3 }), { from: 'build', chown: '1:1', sources: ['a', 'b'], destination: './', line: 3 });
  });

  const cases: readonly { rules: string; path: string; ignored: boolean }[] = [
    { rules: 'node_modules', path: 'node_modules/x/y.js', ignored: true },
    { rules: 'node_modules', path: 'sub/node_modules', ignored: false },
    { rules: '**/node_modules', path: 'sub/node_modules/x', ignored: true },
    { rules: '**/node_modules', path: 'node_modules', ignored: true },
    { rules: '/test', path: 'test/a.ts', ignored: true },
    { rules: '*.md', path: 'README.md', ignored: true },
    { rules: '*.md', path: 'docs/a.md', ignored: false },
    { rules: 'docs\n!docs/keep.md', path: 'docs/keep.md', ignored: false },
    { rules: 'docs\n!docs/keep.md', path: 'docs/other.md', ignored: true },
    { rules: 'a?c', path: 'abc', ignored: true },
    { rules: 'a.c', path: 'abc', ignored: false },
  ];
  for (const c of cases) {
    it(`.dockerignore ${JSON.stringify(c.rules)} ${c.ignored ? 'leaves out' : 'keeps'} ${c.path}`, () => {
      assert.equal(dockerignore(c.rules)(c.path), c.ignored);
    });
  }
});
