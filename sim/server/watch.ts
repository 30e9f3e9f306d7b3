/**
 * The watch protocol (reference §3 "Watch protocol"): chunked
 * newline-delimited events from a resourceVersion, a too-old version
 * answered as an in-stream ERROR carrying a 410 Status, bookmarks when
 * asked, `timeoutSeconds`, and streaming lists (`sendInitialEvents`) that
 * end their initial events with the `k8s.io/initial-events-end` bookmark.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from '../api/errors.ts';
import type { KubeObject } from '../api/object.ts';
import type { ResourceType } from '../api/resources.ts';
import { groupVersion } from '../api/resources.ts';
import type { ClusterStore, Scope, StoreEvent, WatchEventType } from '../api/store.ts';
import { toTable } from '../api/table.ts';

export interface WatchRequest {
  type: ResourceType;
  scope: Scope;
  /** `resourceVersion` as sent; '' when unset. */
  resourceVersion: string;
  sendInitialEvents: boolean;
  allowBookmarks: boolean;
  timeoutSeconds: number | undefined;
  /** Encode objects as one-row Tables (kubectl get -w). */
  table: { includeObject: string } | undefined;
}

export interface WatchOptions {
  /** Wall-clock interval between periodic bookmarks. */
  bookmarkIntervalMs: number;
  /** Called with each open stream so the server can close them on shutdown or a fault. */
  track: (close: () => void) => () => void;
}

/** Events one watcher may lag behind before it is closed. */
const maxQueuedEvents = 100_000;

/** Serves one watch until the client leaves, the timeout passes or the server closes it. */
export function serveWatch(store: ClusterStore, req: IncomingMessage, res: ServerResponse, w: WatchRequest, options: WatchOptions): void {
  const { type, scope } = w;
  let lastSent = 0;
  let closed = false;
  const pending: StoreEvent[] = [];
  let ready = false;

  const encode = (eventType: WatchEventType | 'BOOKMARK', obj: KubeObject, json?: string): string => {
    if (w.table && eventType !== 'BOOKMARK') {
      const table = toTable(type, [obj], store.clock.now(), w.table.includeObject, { resourceVersion: obj.metadata.resourceVersion ?? '' });
      return `{"type":"${eventType}","object":${JSON.stringify(table)}}\n`;
    }
    return `{"type":"${eventType}","object":${json ?? JSON.stringify(obj)}}\n`;
  };

  // Lines wait here while the client is slower than the events: the socket
  // buffer stays small, and a watcher that falls too far behind is closed,
  // as the API server does with a full watch channel (the client re-watches
  // from its last resourceVersion).
  const queue: (() => string)[] = [];
  let writing = false;
  const flush = (): void => {
    if (writing || closed) return;
    writing = true;
    while (queue.length > 0 && !closed) {
      const line = (queue.shift() as () => string)();
      if (!res.write(line)) {
        res.once('drain', () => {
          writing = false;
          flush();
        });
        return;
      }
    }
    writing = false;
  };
  const write = (line: string | (() => string)): void => {
    if (closed) return;
    if (queue.length >= maxQueuedEvents) {
      finish();
      return;
    }
    queue.push(typeof line === 'string' ? () => line : line);
    flush();
  };

  const deliver = (event: StoreEvent): void => {
    if (event.resource !== type && (event.resource.group !== type.group || event.resource.plural !== type.plural)) return;
    if (event.resourceVersion <= lastSent) return;
    const nowMatches = event.type !== 'DELETED' && store.matches(type, event.object, scope);
    const wasMatching = event.previous !== undefined && store.matches(type, event.previous, scope);
    let eventType: WatchEventType | undefined;
    if (event.type === 'DELETED') eventType = wasMatching || store.matches(type, event.object, scope) ? 'DELETED' : undefined;
    else if (nowMatches) eventType = event.type === 'ADDED' || !wasMatching ? 'ADDED' : 'MODIFIED';
    else if (wasMatching) eventType = 'DELETED'; // moved out of the selector
    lastSent = event.resourceVersion;
    if (eventType) {
      const type_ = eventType;
      write(() => encode(type_, event.object, event.json()));
    }
  };

  const unsubscribe = store.subscribe((event) => {
    if (ready) deliver(event);
    else pending.push(event);
  });

  const bookmark = (resourceVersion: number, annotations?: Record<string, string>): void => {
    const obj = { kind: type.kind, apiVersion: groupVersion(type), metadata: { resourceVersion: String(resourceVersion), ...(annotations ? { annotations } : {}) } } as KubeObject;
    write(`{"type":"BOOKMARK","object":${JSON.stringify(obj)}}\n`);
  };

  let untrack = (): void => {};
  let bookmarkTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    untrack();
    if (bookmarkTimer) clearInterval(bookmarkTimer);
    if (timeoutTimer) clearTimeout(timeoutTimer);
    res.end();
  };

  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  req.on('close', finish);
  res.on('close', finish);
  untrack = options.track(finish);

  try {
    const initialList = w.sendInitialEvents || w.resourceVersion === '' || w.resourceVersion === '0';
    if (initialList) {
      const { items, resourceVersion } = store.list(type, scope);
      for (const obj of items) write(encode('ADDED', obj, store.jsonOf(type, obj)));
      lastSent = Number(resourceVersion);
      if (w.sendInitialEvents) bookmark(lastSent, { 'k8s.io/initial-events-end': 'true' });
    } else {
      const from = Number(w.resourceVersion);
      const history = store.eventsSince(type, from);
      lastSent = from;
      for (const event of history) deliver(event);
    }
  } catch (err) {
    if (err instanceof ApiError) {
      // Post-admission errors travel inside the 200 stream (apiserver cacher newErrWatcher).
      write(`{"type":"ERROR","object":${JSON.stringify(err.toStatus())}}\n`);
      finish();
      return;
    }
    throw err;
  }
  for (const event of pending.splice(0)) deliver(event);
  ready = true;

  if (w.allowBookmarks) {
    // Every event is delivered synchronously, so the store's revision is a safe progress mark.
    bookmarkTimer = setInterval(() => bookmark(store.resourceVersion), options.bookmarkIntervalMs);
    bookmarkTimer.unref();
  }
  if (w.timeoutSeconds !== undefined && w.timeoutSeconds > 0) {
    timeoutTimer = setTimeout(finish, w.timeoutSeconds * 1000);
    timeoutTimer.unref();
  }
}
