/**
 * A throwaway certificate authority and serving certificate for kube-sim.
 * kubectl (client-go) never sends a bearer token over plain HTTP, so the
 * simulator must speak TLS; Node can make keys but not certificates, so the
 * two X.509 certificates are encoded here in DER by hand (RFC 5280), with
 * ECDSA P-256 keys that take a millisecond to generate.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const octets = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const bitString = (b: Buffer, unusedBits = 0) => tlv(0x03, Buffer.from([unusedBits]), b);

function integer(bytes: Buffer): Buffer {
  // DER integers are signed: a leading 1 bit needs a zero byte in front.
  const positive = (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
  return tlv(0x02, positive);
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [(arcs[0] ?? 0) * 40 + (arcs[1] ?? 0)];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(date: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const text = `${p(date.getUTCFullYear() % 100)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(text, 'ascii'));
}

const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

interface CertificateSpec {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signingKey: KeyObject;
  ca: boolean;
}

function certificate(spec: CertificateSpec): Buffer {
  const serial = randomBytes(16);
  // Positive and never a leading zero byte: DER integers must be minimal, and a
  // 0x00 followed by a byte below 0x80 fails to parse ("illegal padding").
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01;
  const now = Date.now();
  const extensions = spec.ca
    ? [
        extension('2.5.29.19', true, seq(bool(true))),
        // keyCertSign (bit 5) and digitalSignature (bit 0): 0b10000100, 2 unused bits.
        extension('2.5.29.15', true, bitString(Buffer.from([0x84]), 2)),
      ]
    : [
        extension('2.5.29.19', true, seq()),
        extension('2.5.29.15', true, bitString(Buffer.from([0x80]), 7)),
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))),
        // subjectAltName: DNS localhost, IP 127.0.0.1 and ::1.
        extension('2.5.29.17', false, seq(tlv(0x82, Buffer.from('localhost')), tlv(0x87, Buffer.from([127, 0, 0, 1])), tlv(0x87, Buffer.from([...new Array<number>(15).fill(0), 1])))),
      ];
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    name(spec.issuer),
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 365 * 86400_000))),
    name(spec.subject),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, { key: spec.signingKey, dsaEncoding: 'der' });
  return seq(tbs, ecdsaWithSha256, bitString(signature));
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

export interface ServingCertificate {
  /** PEM of the CA that kubeconfigs trust (`certificate-authority-data`). */
  caPem: string;
  /** PEM of the serving certificate. */
  certPem: string;
  /** PEM (PKCS#8) of the serving key; held in memory only. */
  keyPem: string;
}

/** Makes a fresh CA and a serving certificate for 127.0.0.1, ::1 and localhost. */
export function createServingCertificate(): ServingCertificate {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caDer = certificate({ subject: 'kube-sim-ca', issuer: 'kube-sim-ca', publicKey: ca.publicKey, signingKey: ca.privateKey, ca: true });
  const leafDer = certificate({ subject: 'kube-sim', issuer: 'kube-sim-ca', publicKey: leaf.publicKey, signingKey: ca.privateKey, ca: false });
  const keyPem = leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { caPem: pem('CERTIFICATE', caDer), certPem: pem('CERTIFICATE', leafDer), keyPem };
}
