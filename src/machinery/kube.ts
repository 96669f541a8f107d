// Kubernetes access for the controller: kubeconfig loading and a small
// wire-JSON REST client with client-go's client-side QPS/burst limit.
//
// Why not client-node's generated *Api classes: they deserialize through the
// ObjectSerializer (timestamps become Dates, unknown fields are dropped), while
// everynode works on the API server's JSON as served (byte-exact revision data,
// status written back without losing fields). client-node still loads the
// kubeconfig and supplies credentials (token refresh, exec plugins).
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { Agent, request, type Dispatcher } from 'undici';
import { TokenBucket } from './token-bucket.ts';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * `--kubeconfig PATH` when given; otherwise the in-cluster service account when
 * running in a pod; otherwise client-node's default lookup ($KUBECONFIG,
 * ~/.kube/config) so running on a workstation works without flags.
 */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error('kubeconfig has no current cluster');
  return kc;
}

/** The namespace of the pod we run in (service account mount), if any. */
export function inClusterNamespace(): string | undefined {
  try {
    return readFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * A Kubernetes API error: HTTP status plus the `Status` body's reason. The
 * message is the Status message, as client-go's StatusError prints it (events
 * such as "Error creating: <err>" quote it).
 */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly body: unknown;
  /** The request, for logs: "POST /api/v1/namespaces/x/pods". */
  readonly request: string;
  constructor(code: number, reason: string, message: string, body: unknown, request = '') {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.body = body;
    this.request = request;
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown): boolean =>
  e instanceof ApiError && e.code === 409 && e.reason === 'Conflict';
export const isAlreadyExists = (e: unknown): boolean =>
  e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists';
export const isGone = (e: unknown): boolean =>
  e instanceof ApiError && (e.code === 410 || e.reason === 'Expired');
/** The namespace is being deleted: creates there fail and upstream ignores that (NamespaceTerminating cause). */
export const isNamespaceTerminating = (e: unknown): boolean =>
  e instanceof ApiError &&
  e.code === 403 &&
  JSON.stringify((e.body as { details?: unknown } | undefined)?.details ?? '').includes(
    'NamespaceTerminating',
  );

/** One API resource, enough to build its REST paths. */
export interface Resource {
  group: string;
  version: string;
  /** Plural resource name, as in the URL. */
  plural: string;
}

export const resources = {
  pods: { group: '', version: 'v1', plural: 'pods' },
  nodes: { group: '', version: 'v1', plural: 'nodes' },
  events: { group: '', version: 'v1', plural: 'events' },
  configMaps: { group: '', version: 'v1', plural: 'configmaps' },
  namespaces: { group: '', version: 'v1', plural: 'namespaces' },
  daemonSets: { group: 'apps', version: 'v1', plural: 'daemonsets' },
  controllerRevisions: { group: 'apps', version: 'v1', plural: 'controllerrevisions' },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' },
} as const satisfies Record<string, Resource>;

/** `/api/v1/namespaces/ns/pods/name/status` and friends; namespace omitted = cluster scope or all namespaces. */
export function resourcePath(
  r: Resource,
  at: { namespace?: string | undefined; name?: string | undefined; subresource?: string | undefined } = {},
): string {
  const parts = [r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`];
  if (at.namespace) parts.push('namespaces', encodeURIComponent(at.namespace));
  parts.push(r.plural);
  if (at.name) parts.push(encodeURIComponent(at.name));
  if (at.subresource) parts.push(at.subresource);
  return parts.join('/');
}

export type Query = Record<string, string | number | boolean | undefined>;

export type PatchType = 'merge' | 'strategic' | 'json';
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
};

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON.stringify(body). */
  body?: unknown;
  /** Sent as is, instead of `body` (byte-exact payloads such as ControllerRevision data). */
  rawBody?: string;
  contentType?: string;
  signal?: AbortSignal;
}

export interface WatchEvent<T = unknown> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface KubeClientOptions {
  /** Client-side request rate (client-go `--kube-api-qps`); ≤ 0 disables the limit. */
  qps: number;
  /** Client-side burst (`--kube-api-burst`). */
  burst: number;
  userAgent?: string;
  /** Deadline for one non-watch request. */
  requestTimeoutMs?: number;
}

/** A list response: items plus list metadata. */
export interface ListResult<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export class KubeClient {
  readonly kubeConfig: KubeConfig;
  readonly limiter: TokenBucket;
  private readonly server: string;
  private readonly userAgent: string;
  private readonly requestTimeoutMs: number;
  private dispatcher: Promise<Dispatcher> | undefined;

  constructor(kc: KubeConfig, options: KubeClientOptions) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.kubeConfig = kc;
    this.server = cluster.server.replace(/\/+$/, '');
    this.limiter = new TokenBucket({ qps: options.qps, burst: options.burst });
    this.userAgent = options.userAgent ?? 'everynode';
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  list<T>(path: string, query?: Query): Promise<ListResult<T>> {
    return this.request<ListResult<T>>('GET', path, { query });
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  replace<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }

  patch<T>(path: string, type: PatchType, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body, contentType: PATCH_CONTENT_TYPE[type] });
  }

  delete<T = unknown>(path: string, options?: { uid?: string; propagationPolicy?: string }): Promise<T> {
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (options?.uid) body.preconditions = { uid: options.uid };
    if (options?.propagationPolicy) body.propagationPolicy = options.propagationPolicy;
    return this.request<T>('DELETE', path, { body });
  }

  /** One request through the rate limiter; resolves with the parsed JSON body, rejects with ApiError on HTTP errors. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    await this.limiter.take(options.signal);
    // undici's own headers/body timeouts (requestTimeoutMs) fire first and drop the connection; this outer
    // deadline only bounds the total time of a slow but moving response.
    const timeout = AbortSignal.timeout(Math.ceil(2 * this.requestTimeoutMs));
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const response = await this.send(method, path, options, signal);
    const text = await response.body.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!ok(response.statusCode)) throw toApiError(response.statusCode, parsed, text, method, path);
    return parsed as T;
  }

  /**
   * Opens a watch and yields its events until the server closes the stream
   * (normal end, the generator returns) or the connection fails or `signal`
   * aborts (the generator throws). An HTTP error status throws ApiError.
   */
  async *watch<T>(path: string, query: Query, signal: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    await this.limiter.take(signal);
    // Each watch gets its own connection, destroyed when the watch ends: aborting a request leaves undici's
    // socket in place, and a silent (half-open) watch connection must really go away when we give up on it.
    const agent = await this.newAgent(0);
    try {
      yield* this.watchOn<T>(agent, path, query, signal);
    } finally {
      await agent.destroy().catch(() => undefined);
    }
  }

  private async *watchOn<T>(
    agent: Agent,
    path: string,
    query: Query,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent<T>> {
    const response = await this.send('GET', path, { query: { ...query, watch: true } }, signal, agent);
    if (!ok(response.statusCode)) {
      const text = await response.body.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      throw toApiError(response.statusCode, parsed, text, 'WATCH', path);
    }
    // A Node stream decoding UTF-8 across chunk boundaries; leaving the loop early destroys it.
    response.body.setEncoding('utf8');
    let buffered = '';
    for await (const chunk of response.body as AsyncIterable<string>) {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield JSON.parse(line) as WatchEvent<T>;
        newline = buffered.indexOf('\n');
      }
    }
  }

  private async send(
    method: string,
    path: string,
    options: RequestOptions,
    signal: AbortSignal,
    dispatcher?: Dispatcher,
  ) {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const httpsOptions: { headers?: Record<string, string | string[] | number | undefined> } = {};
    // Re-applied per request: tokens are refreshed by client-node's authenticators (in-cluster token file, exec plugins).
    await this.kubeConfig.applyToHTTPSOptions(httpsOptions);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent };
    for (const [k, v] of Object.entries(httpsOptions.headers ?? {})) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    // undici's request API rather than its fetch: the same connection pool without the WHATWG
    // Request/Response and web-stream layers, which cost the controller more CPU than its planning.
    return request(url, {
      method,
      headers,
      body: body ?? null,
      signal,
      dispatcher: dispatcher ?? (await this.getDispatcher()),
    });
  }

  /**
   * The keep-alive connection pool for ordinary requests, built once from the
   * kubeconfig's TLS material (client-node creates a new undici Agent per
   * request, which costs a TLS handshake each time). undici does not drop a
   * connection when a request on it is aborted, so a half-open connection
   * would swallow every later request; its own headers/body timeouts do
   * destroy the socket, so they are set to the request deadline.
   */
  private getDispatcher(): Promise<Dispatcher> {
    this.dispatcher ??= this.newAgent(this.requestTimeoutMs);
    return this.dispatcher;
  }

  private async newAgent(idleTimeoutMs: number): Promise<Agent> {
    const tls: {
      ca?: Buffer;
      cert?: Buffer;
      key?: Buffer;
      rejectUnauthorized?: boolean;
      servername?: string;
    } = {};
    await this.kubeConfig.applyToHTTPSOptions(tls);
    return new Agent({
      headersTimeout: this.requestTimeoutMs,
      // 0 disables it: watches end through their own silence watchdog.
      bodyTimeout: idleTimeoutMs,
      connect: {
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        rejectUnauthorized: tls.rejectUnauthorized,
        servername: tls.servername,
        keepAlive: true,
      },
    });
  }

  /** Closes the connection pool. */
  async close(): Promise<void> {
    if (!this.dispatcher) return;
    const d = await this.dispatcher;
    this.dispatcher = undefined;
    await d.destroy();
  }
}

const ok = (statusCode: number): boolean => statusCode >= 200 && statusCode < 300;

function toApiError(code: number, parsed: unknown, text: string, method: string, path: string): ApiError {
  const status = (parsed ?? {}) as { reason?: string; message?: string };
  const message = status.message ?? (text.slice(0, 200) || `the server responded with HTTP ${code}`);
  return new ApiError(code, status.reason ?? '', message, parsed, `${method} ${path}`);
}
