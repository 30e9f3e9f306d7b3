/**
 * Table tests of the pure functions behind the controllers: the hashes and
 * encodings of upstream names, back-off arithmetic, int-or-percent and
 * fencepost rounding, ordinals, image references and globs, and the
 * validation of the image catalogue and the fault configuration.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, controllerRevisionHash, fnv1, fnv1a, safeEncodeString } from '../../../sim/controllers/hash.ts';
import { retryDelayMs } from '../../../sim/controllers/manager.ts';
import { scaledValue, selectorMatches } from '../../../sim/controllers/objects.ts';
import { resolveFenceposts } from '../../../sim/controllers/deployment.ts';
import { controllerRevisionName, parentAndOrdinal, revisionRawData, statefulSetMaxUnavailable } from '../../../sim/controllers/statefulset.ts';
import { FaultConfigError, requestAttributes, validateFaults } from '../../../sim/faults.ts';
import { ImageCatalogueError, ImageResolver, globMatches, imageIdOf, normalizeImage, parseImageCatalogue } from '../../../sim/images.ts';
import { kubeletBackoffSeconds, qosClass } from '../../../sim/kubelet/kubelet.ts';
import { seededRandom } from '../../../sim/random.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('hashes and names', () => {
  it('FNV-1 and FNV-1a match Go hash/fnv test vectors', () => {
    const cases: [string, number, number][] = [
      ['', 0x811c9dc5, 0x811c9dc5],
      ['a', 0x050c5d7e, 0xe40c292c],
      ['ab', 0x70772d38, 0x4d2505ca],
      ['abc', 0x439c2f4b, 0x1a47e90b],
    ];
    for (const [input, one, oneA] of cases) {
      assert.equal(fnv1(bytes(input)), one, `fnv1(${input})`);
      assert.equal(fnv1a(bytes(input)), oneA, `fnv1a(${input})`);
    }
  });

  it('SafeEncodeString maps each character code modulo 27 into the alphabet', () => {
    // '0' is 48 → index 21 '4' … '5' is 53 → 26 '9', '6' is 54 → 0 'b' … '9' is 57 → 3 'f'.
    const cases: [string, string][] = [
      ['0123456789', '456789bcdf'],
      ['123', '567'],
      ['', ''],
    ];
    for (const [input, out] of cases) assert.equal(safeEncodeString(input), out);
  });

  it('a ControllerRevision hash is FNV-1 of the data then the decimal collision count, safe-encoded decimal', () => {
    const raw = '{"spec":{"template":{"$patch":"replace"}}}';
    const expected = safeEncodeString(String(fnv1(bytes('0'), fnv1(bytes(raw)))));
    assert.equal(controllerRevisionHash(raw, 0), expected);
    assert.notEqual(controllerRevisionHash(raw, 1), expected, 'the collision count changes the name');
    assert.match(controllerRevisionHash(raw, 0), /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
  });

  it('revision data is the template with $patch: replace, keys sorted, Go HTML escaping', () => {
    assert.equal(revisionRawData({ spec: { b: 1, a: '<&>' }, metadata: { labels: { app: 'x' } } }), '{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"x"}},"spec":{"a":"\\u003c\\u0026\\u003e","b":1}}}}');
    assert.equal(canonicalJson({ z: [1, { y: 2, x: null }], a: true }), '{"a":true,"z":[1,{"x":null,"y":2}]}');
  });

  it('revision names cut long prefixes to 223 characters', () => {
    assert.equal(controllerRevisionName('web', 'abc'), 'web-abc');
    assert.equal(controllerRevisionName('x'.repeat(300), 'h').length, 223 + 2);
  });

  it('ordinals are parsed as upstream getParentNameAndOrdinal', () => {
    const cases: [string, string, number][] = [
      ['web-0', 'web', 0],
      ['my-db-12', 'my-db', 12],
      ['web', '', -1],
      ['web-x', '', -1],
      ['web-99999999999', 'web', -1],
    ];
    for (const [name, parent, ordinal] of cases) assert.deepEqual(parentAndOrdinal(name), { parent, ordinal }, name);
  });
});

describe('arithmetic', () => {
  it('controller retry delays double from 5 ms to the cap', () => {
    assert.deepEqual([0, 1, 2, 3, 10].map((n) => retryDelayMs(n)), [0, 5, 10, 20, 2560]);
    assert.equal(retryDelayMs(40), 60_000);
  });

  it('kubelet back-off doubles from 10 s to 300 s', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 20].map(kubeletBackoffSeconds), [10, 20, 40, 80, 160, 300, 300, 300]);
  });

  it('int-or-percent scales with the right rounding', () => {
    const cases: [unknown, number, boolean, number][] = [
      [2, 10, false, 2],
      ['25%', 3, true, 1],
      ['25%', 3, false, 0],
      ['50%', 5, false, 2],
      ['100%', 4, true, 4],
    ];
    for (const [value, total, up, out] of cases) assert.equal(scaledValue(value, total, up), out, `${String(value)} of ${total}`);
    assert.throws(() => scaledValue('x', 3, true));
  });

  it('StatefulSet maxUnavailable is at least 1 and rounds percentages down', () => {
    assert.deepEqual([[undefined, 3], [2, 5], ['50%', 5], ['10%', 5]].map(([v, n]) => statefulSetMaxUnavailable(v, n as number)), [1, 2, 2, 1]);
  });

  it('Deployment fenceposts: surge up, unavailable down, never both zero', () => {
    assert.deepEqual(resolveFenceposts('25%', '25%', 3), { surge: 1, unavailable: 0 });
    assert.deepEqual(resolveFenceposts('25%', '25%', 4), { surge: 1, unavailable: 1 });
    assert.deepEqual(resolveFenceposts(0, '10%', 5), { surge: 0, unavailable: 1 });
    assert.deepEqual(resolveFenceposts(1, 1, 4), { surge: 1, unavailable: 1 });
  });

  it('label selectors: matchLabels and every matchExpressions operator', () => {
    const labels = { app: 'db', tier: 'back' };
    assert.equal(selectorMatches({ matchLabels: { app: 'db' } }, labels), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['back', 'x'] }] }, labels), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['back'] }] }, labels), false);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels), false);
    assert.equal(selectorMatches({}, labels), true, 'an empty selector matches everything');
    assert.equal(selectorMatches(undefined, labels), false, 'a nil selector matches nothing');
  });

  it('QoS class from requests and limits', () => {
    assert.equal(qosClass({ containers: [{ name: 'a' }] }), 'BestEffort');
    assert.equal(qosClass({ containers: [{ name: 'a', resources: { requests: { cpu: '1' } } }] }), 'Burstable');
    assert.equal(qosClass({ containers: [{ name: 'a', resources: { limits: { cpu: '1', memory: '1Gi' } } }] }), 'Guaranteed');
  });

  it('seeded randomness repeats', () => {
    const a = seededRandom(9);
    const b = seededRandom(9);
    assert.deepEqual([a.next(), a.int(10), a.string(5, 'ab')], [b.next(), b.int(10), b.string(5, 'ab')]);
  });
});

describe('images', () => {
  it('normalises references as container runtimes report them', () => {
    const cases: [string, string][] = [
      ['nginx', 'docker.io/library/nginx:latest'],
      ['nginx:1.25', 'docker.io/library/nginx:1.25'],
      ['pingcap/tikv:v7.5.1', 'docker.io/pingcap/tikv:v7.5.1'],
      ['quay.io/org/app:1', 'quay.io/org/app:1'],
      ['localhost:5000/app', 'localhost:5000/app:latest'],
      ['redis@sha256:abc', 'docker.io/library/redis@sha256:abc'],
    ];
    for (const [ref, out] of cases) assert.equal(normalizeImage(ref), out);
    assert.match(imageIdOf('nginx:1.25'), /^docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/);
  });

  it('globs match exact references, * runs and ? characters', () => {
    const cases: [string, string, boolean][] = [
      ['nginx:1.25', 'nginx:1.25', true],
      ['nginx:1.25', 'nginx:1.26', false],
      ['nginx:*', 'nginx:1.26', true],
      ['*/tikv:*', 'pingcap/tikv:v8', true],
      ['app:v?', 'app:v1', true],
      ['app:v?', 'app:v10', false],
      ['a.b', 'aXb', false],
    ];
    for (const [pattern, value, out] of cases) assert.equal(globMatches(pattern, value), out, `${pattern} ~ ${value}`);
  });

  it('the first matching rule wins over defaults; normalised references match too', () => {
    const r = new ImageResolver({ defaults: { startSeconds: 5 }, images: [{ match: 'docker.io/library/redis:*', missing: true }, { match: 'redis:*', crash: true }] });
    assert.equal(r.behaviourOf('redis:7').missing, true);
    assert.equal(r.behaviourOf('redis:7').crash, false);
    assert.equal(r.behaviourOf('nginx').startSeconds, 5);
    assert.equal(r.behaviourOf('nginx').readySeconds, 1);
  });

  it('catalogue errors name every problem', () => {
    assert.deepEqual(parseImageCatalogue('images:\n  - match: x\n    missing: true\n'), { images: [{ match: 'x', missing: true }] });
    try {
      parseImageCatalogue('images:\n  - missing: yes\n  - match: a\n    startSeconds: -1\n    colour: red\nextra: 1\n');
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof ImageCatalogueError);
      assert.deepEqual(err.problems, [
        'extra: unknown field (known: defaults, images)',
        'images[0].match: required, an image reference or glob',
        'images[1].startSeconds: must be a number of seconds, 0 or more',
        'images[1].colour: unknown field (known: match, startSeconds, readySeconds, stopSeconds, crashAfterSeconds, readyForSeconds, ignoreSigterm, missing, crash, neverReady)',
      ]);
    }
  });
});

describe('faults', () => {
  it('request attributes follow the API server RequestInfo', () => {
    const cases: [string, string, string][] = [
      ['GET', '/clusters/sim/api/v1/namespaces/a/pods', 'list  pods a'],
      ['GET', '/clusters/sim/api/v1/namespaces/a/pods/p?watch=1', 'watch  pods a'],
      ['GET', '/clusters/sim/api/v1/namespaces/a/pods/p', 'get  pods a'],
      ['PATCH', '/clusters/sim/apis/apps/v1/namespaces/a/statefulsets/s/status', 'patch apps statefulsets/status a'],
      ['DELETE', '/clusters/sim/api/v1/namespaces/a/configmaps', 'deletecollection  configmaps a'],
      ['POST', '/clusters/sim/api/v1/namespaces', 'create  namespaces -'],
    ];
    for (const [method, path, out] of cases) {
      const a = requestAttributes(method, new URL(path, 'https://x'));
      assert.equal(a && `${a.verb} ${a.group} ${a.resource}${a.subresource ? `/${a.subresource}` : ''} ${a.namespace ?? '-'}`, out, `${method} ${path}`);
    }
    assert.equal(requestAttributes('GET', new URL('https://x/clusters/sim/version')), undefined);
  });

  it('a valid configuration passes; problems are listed', () => {
    assert.deepEqual(validateFaults({ latencyMs: 5, rules: [{ status: 429, verbs: ['*'] }] }), { latencyMs: 5, rules: [{ status: 429, verbs: ['*'] }] });
    assert.throws(() => validateFaults({ dropWatchesEverySeconds: 0 }), (err: unknown) => err instanceof FaultConfigError && err.problems[0] === 'dropWatchesEverySeconds: must be a number above 0');
  });
});
