/**
 * A TCP proxy on 127.0.0.1 that counts the bytes crossing it each way, for
 * benchmarks that report what a client downloaded from a server (the git
 * HTTP server of test/helpers/git-server.ts counts requests, not bytes).
 * Everything on the wire is counted: HTTP headers, chunk framing, bodies.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** Bytes since the start or the last reset. */
export interface ByteCounts {
  /** From the server to its clients. */
  toClient: number;
  /** From the clients to the server. */
  toServer: number;
  /** TCP connections accepted. */
  connections: number;
}

/** A running proxy. */
export interface ByteCountingProxy {
  /** The port to connect to instead of the server's. */
  readonly port: number;
  counts(): ByteCounts;
  reset(): void;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

/** Starts a proxy on a free port of 127.0.0.1 forwarding to `127.0.0.1:targetPort`. */
export async function startByteCountingProxy(targetPort: number): Promise<ByteCountingProxy> {
  let counts: ByteCounts = { toClient: 0, toServer: 0, connections: 0 };
  const open = new Set<Socket>();
  const server = createServer((client) => {
    counts.connections++;
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      // Without it, Nagle's algorithm meets the peer's delayed ACK and each small HTTP exchange waits ~40 ms.
      socket.setNoDelay(true);
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      // A reset on one side ends the other; the client sees a broken connection, as it would without the proxy.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => (counts.toServer += chunk.length));
    upstream.on('data', (chunk: Buffer) => (counts.toClient += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    counts: () => ({ ...counts }),
    reset: () => {
      counts = { toClient: 0, toServer: 0, connections: 0 };
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await closed;
    },
  };
}
