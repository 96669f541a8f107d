// A loopback TCP relay between a client and the API server, so a test can
// break a client's connections the ways networks do: reset them (breakAll) or
// leave them open but silent (freezeAll, a half-open connection). TLS passes
// through untouched. New connections after either are relayed normally.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private readonly frozen = new Set<{ client: Socket; upstream: Socket }>();
  private partitioned = false;

  private constructor(targetHost: string, targetPort: number) {
    this.server = createServer((client) => {
      if (this.partitioned) {
        client.resetAndDestroy();
        return;
      }
      const upstream = connect(targetPort, targetHost);
      const pair = { client, upstream };
      this.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Connections currently relayed. */
  connections(): number {
    return this.pairs.size;
  }

  /** Resets every relayed connection (the client sees its stream fail). */
  breakAll(): void {
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
  }

  /** Stops relaying on every current connection while keeping it open: the client waits forever. */
  freezeAll(): void {
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    // Frozen connections no longer count as relayed; new ones are relayed normally.
    for (const pair of this.pairs) this.frozen.add(pair);
    this.pairs.clear();
  }

  /** A network partition: current connections go silent and new ones are refused, until heal(). */
  partition(): void {
    this.partitioned = true;
    this.freezeAll();
  }

  heal(): void {
    this.partitioned = false;
  }

  async close(): Promise<void> {
    this.breakAll();
    for (const { client, upstream } of this.frozen) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A copy of the kubeconfig at `path` whose current cluster is reached through this proxy. */
  kubeConfig(path: string): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const current = kc.getCurrentCluster();
    if (!current) throw new Error(`${path} has no current cluster`);
    const proxied = new KubeConfig();
    proxied.loadFromOptions({
      clusters: kc.clusters.map((c) =>
        c.name === current.name ? { ...c, server: `https://127.0.0.1:${this.port}` } : c,
      ),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
    return proxied;
  }
}

/** Host and port of the current cluster's server in a kubeconfig file. */
export function apiServerAddress(path: string): { host: string; port: number } {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const url = new URL(kc.getCurrentCluster()?.server ?? '');
  return { host: url.hostname, port: Number(url.port || 443) };
}
