/**
 * Decoding of the Kubernetes protobuf wire format for the few request
 * bodies kubectl sends that way. kubectl's typed clients (`kubectl create
 * namespace|configmap|secret`) post `application/vnd.kubernetes.protobuf`
 * and never fall back to JSON, so kube-sim reads those kinds; responses are
 * always JSON, which those clients accept (their Accept header lists it).
 *
 * Field numbers are those of k8s.io/api `core/v1/generated.proto` and
 * apimachinery `meta/v1/generated.proto` and `runtime/generated.proto`.
 */
import { unsupportedMediaType, badRequest } from '../api/errors.ts';

type FieldKind = 'string' | 'bytes' | 'int' | 'bool' | { message: Schema } | { map: 'string' | 'bytes' };
interface Field {
  name: string;
  kind: FieldKind;
  repeated?: boolean;
}
type Schema = Record<number, Field>;

const time: Schema = { 1: { name: 'seconds', kind: 'int' }, 2: { name: 'nanos', kind: 'int' } };
const ownerReference: Schema = {
  1: { name: 'kind', kind: 'string' },
  3: { name: 'name', kind: 'string' },
  4: { name: 'uid', kind: 'string' },
  5: { name: 'apiVersion', kind: 'string' },
  6: { name: 'controller', kind: 'bool' },
  7: { name: 'blockOwnerDeletion', kind: 'bool' },
};
const objectMeta: Schema = {
  1: { name: 'name', kind: 'string' },
  2: { name: 'generateName', kind: 'string' },
  3: { name: 'namespace', kind: 'string' },
  5: { name: 'uid', kind: 'string' },
  6: { name: 'resourceVersion', kind: 'string' },
  7: { name: 'generation', kind: 'int' },
  8: { name: 'creationTimestamp', kind: { message: time } },
  11: { name: 'labels', kind: { map: 'string' } },
  12: { name: 'annotations', kind: { map: 'string' } },
  13: { name: 'ownerReferences', kind: { message: ownerReference }, repeated: true },
  14: { name: 'finalizers', kind: 'string', repeated: true },
};
const schemas: Record<string, Schema> = {
  'v1/Namespace': {
    1: { name: 'metadata', kind: { message: objectMeta } },
    2: { name: 'spec', kind: { message: { 1: { name: 'finalizers', kind: 'string', repeated: true } } } },
  },
  'v1/ConfigMap': {
    1: { name: 'metadata', kind: { message: objectMeta } },
    2: { name: 'data', kind: { map: 'string' } },
    3: { name: 'binaryData', kind: { map: 'bytes' } },
    4: { name: 'immutable', kind: 'bool' },
  },
  'v1/Secret': {
    1: { name: 'metadata', kind: { message: objectMeta } },
    2: { name: 'data', kind: { map: 'bytes' } },
    3: { name: 'type', kind: 'string' },
    4: { name: 'stringData', kind: { map: 'string' } },
    5: { name: 'immutable', kind: 'bool' },
  },
};
const unknownEnvelope: Schema = {
  1: { name: 'typeMeta', kind: { message: { 1: { name: 'apiVersion', kind: 'string' }, 2: { name: 'kind', kind: 'string' } } } },
  2: { name: 'raw', kind: 'bytes' },
};

class Reader {
  pos = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw badRequest('protobuf: truncated varint');
      const byte = this.buf[this.pos++] ?? 0;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw badRequest('protobuf: varint overflow');
    }
  }
  bytes(): Buffer {
    const len = Number(this.varint());
    if (len < 0 || this.pos + len > this.buf.length) throw badRequest('protobuf: truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw badRequest(`protobuf: unsupported wire type ${wireType}`);
  }
}

function decodeMessage(buf: Buffer, schema: Schema): Record<string, unknown> {
  const r = new Reader(buf);
  const out: Record<string, unknown> = {};
  while (r.pos < buf.length) {
    const tag = Number(r.varint());
    const fieldNo = tag >>> 3;
    const wireType = tag & 7;
    const field = schema[fieldNo];
    if (!field) {
      r.skip(wireType);
      continue;
    }
    let value: unknown;
    const kind = field.kind;
    if (kind === 'int') value = Number(BigInt.asIntN(64, r.varint()));
    else if (kind === 'bool') value = r.varint() !== 0n;
    else if (kind === 'string') value = r.bytes().toString('utf8');
    else if (kind === 'bytes') value = r.bytes();
    else if ('message' in kind) value = decodeMessage(r.bytes(), kind.message);
    else {
      const entry = decodeMessage(r.bytes(), { 1: { name: 'key', kind: 'string' }, 2: { name: 'value', kind: kind.map } });
      const map = (out[field.name] ??= {}) as Record<string, unknown>;
      const v = entry['value'];
      const mapKey = entry['key'];
      map[typeof mapKey === 'string' ? mapKey : ''] = Buffer.isBuffer(v) ? v.toString('base64') : (v ?? '');
      continue;
    }
    if (field.repeated) ((out[field.name] ??= []) as unknown[]).push(value);
    // gogo-protobuf writes every non-pointer field; JSON's omitempty drops the zero values.
    else if (value !== '' && value !== 0 && value !== false) out[field.name] = value;
  }
  return out;
}

function timeToRfc3339(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const seconds = (value as { seconds?: number }).seconds ?? 0;
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** Decodes a `k8s\0`-prefixed protobuf body of a supported kind into its JSON form. */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> {
  const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
  if (body.length < 4 || !body.subarray(0, 4).equals(magic)) throw badRequest('provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]');
  const envelope = decodeMessage(body.subarray(4), unknownEnvelope);
  const typeMeta = (envelope['typeMeta'] ?? {}) as { apiVersion?: string; kind?: string };
  const key = `${typeMeta.apiVersion ?? ''}/${typeMeta.kind ?? ''}`;
  const schema = schemas[key];
  const raw = envelope['raw'];
  if (!schema || !Buffer.isBuffer(raw)) throw unsupportedMediaType('application/vnd.kubernetes.protobuf', ['application/json', 'application/yaml']);
  const obj = decodeMessage(raw, schema);
  const meta = (obj['metadata'] ?? {}) as Record<string, unknown>;
  if (meta['creationTimestamp'] !== undefined) {
    const ts = timeToRfc3339(meta['creationTimestamp']);
    if (ts === undefined || ts.startsWith('1970-01-01')) delete meta['creationTimestamp'];
    else meta['creationTimestamp'] = ts;
  }
  return { apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...obj, metadata: meta };
}
