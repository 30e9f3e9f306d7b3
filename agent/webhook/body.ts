/**
 * Reads a request body into memory up to a limit, and stops reading the
 * connection the moment the limit is passed: a sender streaming an endless
 * chunked body costs at most `limit` bytes of memory and is not drained.
 */
import type { IncomingMessage } from 'node:http';

/** A body read whole, or one that passed the limit (`received` counts the bytes read before stopping). */
export type BodyResult = { readonly kind: 'complete'; readonly body: Buffer } | { readonly kind: 'too-large'; readonly received: number };

/**
 * Reads `req`'s body, at most `limit` bytes.
 *
 * On passing the limit it detaches, drops what it read and pauses `req`;
 * node:http then stops reading the socket once its small buffer fills
 * (the parser calls readStop when `push` returns false), so the rest of
 * the body stays with the sender. The caller answers 413 with
 * `Connection: close`, and node:http destroys the socket once that answer
 * is written.
 *
 * @param limit - Most bytes accepted, inclusive.
 * @throws when the request errors or the client goes away before the body ends.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    const detach = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        detach();
        req.pause();
        chunks = [];
        resolve({ kind: 'too-large', received: size });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      detach();
      resolve({ kind: 'complete', body: Buffer.concat(chunks, size) });
    };
    const onError = (err: Error): void => {
      detach();
      reject(err);
    };
    // 'close' without 'end' first: the client went away mid-body (node:http emits 'error' only when someone listens, and not always then).
    const onClose = (): void => {
      detach();
      reject(new Error(`client closed the connection after ${size} bytes of the body`));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
