/**
 * How pods reach the API server without kube-proxy: a TCP forwarder in the harness process on
 * the `kubernetes` Service ClusterIP (a /32 on `lo`, see host-net.ts), port 443, piping each
 * connection to the API server on 127.0.0.1. TLS passes through untouched (the API server's
 * certificate names the ClusterIP). A local address is reachable from hostNetwork pods and from
 * pods on the node bridges (through their gateway) and from nowhere else: no NAT, no iptables.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ApiForwarder {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export function startApiForwarder(listenIp: string, apiPort: number, port = 443): Promise<ApiForwarder> {
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const server: Server = createServer((client) => {
    track(client);
    const upstream = connect({ host: '127.0.0.1', port: apiPort });
    track(upstream);
    // Either side failing or closing ends both: a half-open pipe would hang a client's watch.
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  // The harness must not be kept alive by the forwarder alone.
  server.unref();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, listenIp, () => {
      server.off('error', reject);
      resolve({
        address: listenIp,
        port,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => {
              r();
            });
          }),
      });
    });
  });
}
