import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Json } from '../../../sim/patch/json.ts';
import { asJson, deepClone, goFormat, goJsonEncode, jsonEqual, setOwn } from '../../../sim/patch/json.ts';

void describe('jsonEqual', () => {
  const cases: { name: string; a: Json | undefined; b: Json | undefined; want: boolean }[] = [
    { name: 'same scalars', a: 3, b: 3, want: true },
    { name: 'different scalars', a: 3, b: '3', want: false },
    { name: 'null vs null', a: null, b: null, want: true },
    { name: 'null vs object', a: null, b: {}, want: false },
    { name: 'undefined vs null', a: undefined, b: null, want: false },
    { name: 'object member order does not matter', a: { a: 1, b: { c: [1, 2] } }, b: { b: { c: [1, 2] }, a: 1 }, want: true },
    { name: 'array order matters', a: [1, 2], b: [2, 1], want: false },
    { name: 'extra member', a: { a: 1 }, b: { a: 1, b: 2 }, want: false },
    { name: 'missing member vs undefined-looking member', a: { a: null }, b: {}, want: false },
    { name: 'array vs object', a: [], b: {}, want: false },
    { name: 'nested difference', a: { spec: { replicas: 3 } }, b: { spec: { replicas: 4 } }, want: false },
  ];
  for (const c of cases) {
    void it(c.name, () => {
      assert.equal(jsonEqual(c.a, c.b), c.want);
      assert.equal(jsonEqual(c.b, c.a), c.want);
    });
  }

  void it('compares "__proto__" members as data', () => {
    const a = JSON.parse('{"__proto__":{"x":1}}') as Json;
    const b = JSON.parse('{"__proto__":{"x":2}}') as Json;
    assert.equal(jsonEqual(a, b), false);
    assert.equal(jsonEqual(a, deepClone(a)), true);
  });
});

void describe('deepClone', () => {
  void it('copies deeply', () => {
    const original = { spec: { template: { spec: { containers: [{ name: 'app' }] } } } };
    const copy = deepClone(original);
    copy.spec.template.spec.containers[0]!.name = 'changed';
    assert.equal(original.spec.template.spec.containers[0]!.name, 'app');
  });

  void it('keeps "__proto__" as an own member and never touches the prototype', () => {
    const parsed = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as Json;
    const copy = deepClone(parsed) as Record<string, Json>;
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.deepEqual(Object.keys(copy), ['__proto__', 'a']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});

void describe('setOwn', () => {
  void it('defines "__proto__" as data instead of swapping the prototype', () => {
    const obj: Record<string, Json> = {};
    setOwn(obj, '__proto__', { polluted: true });
    assert.equal(Object.getPrototypeOf(obj), Object.prototype);
    assert.deepEqual(Object.keys(obj), ['__proto__']);
  });
});

void describe('asJson', () => {
  const bad: { name: string; value: unknown }[] = [
    { name: 'undefined', value: undefined },
    { name: 'function', value: () => 1 },
    { name: 'NaN', value: Number.NaN },
    { name: 'Date', value: new Date(0) },
    { name: 'nested bigint', value: { a: [1n] } },
  ];
  for (const c of bad) void it(`rejects ${c.name}`, () => assert.throws(() => asJson(c.value), TypeError));
  void it('accepts plain JSON', () => assert.deepEqual(asJson({ a: [1, 'x', null, true, {}] }), { a: [1, 'x', null, true, {}] }));
});

void describe('goFormat (Go %v)', () => {
  const cases: { value: Json; want: string }[] = [
    { value: { name: 'app', image: 'nginx' }, want: 'map[image:nginx name:app]' },
    { value: [{ name: 1 }, { name: 2 }], want: '[map[name:1] map[name:2]]' },
    { value: null, want: '<nil>' },
    { value: 1.5, want: '1.5' },
    { value: 1e21, want: '1e+21' },
    { value: 0.00001, want: '1e-05' },
    { value: true, want: 'true' },
  ];
  for (const c of cases) void it(c.want, () => assert.equal(goFormat(c.value), c.want));
});

void describe('goJsonEncode', () => {
  void it('sorts keys, escapes HTML characters and ends with a newline, as encoding/json does', () => {
    assert.equal(goJsonEncode({ b: 1, a: '<a&b>' }), '{"a":"\\u003ca\\u0026b\\u003e","b":1}\n');
  });
});
