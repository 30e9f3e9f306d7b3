/**
 * Small HTTP helpers shared by kube-sim's handlers: reading bounded
 * bodies, writing JSON and Status responses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, requestTooLarge } from '../api/errors.ts';

/** The API server's request body limit (apiserver `MaxRequestBodyBytes`, 3 MiB). */
export const maxRequestBodyBytes = 3 * 1024 * 1024;

/**
 * Reads a request body, refusing bodies over the limit with 413 as soon as
 * the declared or received length passes it, without buffering the rest.
 */
export async function readBody(req: IncomingMessage, limit = maxRequestBodyBytes): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw requestTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      req.destroy();
      throw requestTooLarge(limit);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const headers: Record<string, string> = {};
  if (err.details?.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.details.retryAfterSeconds);
  const text = JSON.stringify(err.toStatus());
  res.writeHead(err.code, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** The media type without parameters, lower-cased. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** True when the Accept header asks for a `meta.k8s.io` Table (kubectl get). */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim());
    return params[0] === 'application/json' && params.includes('as=Table') && params.some((p) => p === 'g=meta.k8s.io');
  });
}

/** Parses a boolean query parameter as the API server does (`1`, `true`). */
export function boolParam(value: string | null): boolean {
  return value === 'true' || value === '1';
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}
