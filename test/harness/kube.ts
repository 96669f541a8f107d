// Test-side access to a cluster: kubeconfig loading, kwok node management,
// manifests, namespaces and kubectl, all through client-node (or bin/kubectl).
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
  type V1Node,
  type V1Taint,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kubectl as runKubectl, helm as runHelm, type RunOptions, type RunResult } from './tools.ts';
import { done, notYet, waitFor, type WaitOptions } from './wait.ts';

/** The annotation kwok's `--manage-nodes-with-annotation-selector` matches. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
export const CONTROL_PLANE_ROLE = 'node-role.kubernetes.io/control-plane';
/** The field manager of everything the harness applies. */
export const FIELD_MANAGER = 'everynode-e2e';

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

export const isApiError = (err: unknown, code: number): boolean =>
  err instanceof ApiException && err.code === code;

/** Labels a kubelet puts on its Node, plus `type=kwok` to tell the fake ones apart. */
export function kwokNodeLabels(name: string): Record<string, string> {
  return {
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    type: 'kwok',
  };
}

/** A Node object kwok will adopt and run. */
export function kwokNode(name: string, labels: Record<string, string> = {}, taints: V1Taint[] = []): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { ...kwokNodeLabels(name), ...labels },
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: taints.length > 0 ? { taints } : {},
  };
}

const NODE_PROBLEM_TAINTS = new Set(['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']);

/**
 * The annotation test/harness/kwok.yaml's failure stages select: on a pod (from the DaemonSet's
 * pod template) `crashloop`, `image-pull-error` or `not-ready`; on a node `not-ready`.
 */
export const SIMULATE_ANNOTATION = 'test.everynode.dev/simulate';
export type SimulatedPodFailure = 'crashloop' | 'image-pull-error' | 'not-ready';

/** Ready, and the node-lifecycle controller has lifted its not-ready/unreachable taints. */
export function nodeIsSchedulable(node: V1Node): boolean {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return ready && !(node.spec?.taints ?? []).some((t) => NODE_PROBLEM_TAINTS.has(t.key));
}

function nodeSummary(node: V1Node) {
  return {
    name: node.metadata?.name,
    ready: node.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'no Ready condition',
    taints: (node.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`),
  };
}

/** A Kubernetes object as written in a test: any fields besides the common ones. */
export type ManifestObject = KubernetesObject & Record<string, unknown>;
export type Manifest = string | ManifestObject | readonly ManifestObject[];

// Array.isArray does not narrow readonly arrays.
const isObjectList = (m: ManifestObject | readonly ManifestObject[]): m is readonly ManifestObject[] =>
  Array.isArray(m);

function parseManifest(manifest: Manifest): KubernetesObject[] {
  if (typeof manifest !== 'string') return isObjectList(manifest) ? [...manifest] : [manifest];
  return parseAllDocuments(manifest)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`bad YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as KubernetesObject | null;
    })
    .filter((o): o is KubernetesObject => o !== null && typeof o === 'object');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A connection to one cluster with the helpers tests need. */
export class ClusterClient {
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly objects: KubernetesObjectApi;

  constructor(kubeconfigPath: string) {
    this.kubeconfigPath = kubeconfigPath;
    this.kubeConfig = loadKubeConfig(kubeconfigPath);
    this.core = this.kubeConfig.makeApiClient(CoreV1Api);
    this.apps = this.kubeConfig.makeApiClient(AppsV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(this.kubeConfig);
  }

  /**
   * Creates a kwok node with a real node's labels (plus `labels`) and `taints`,
   * and by default waits until it is Ready and free of the not-ready taint.
   */
  async addNode(
    name: string,
    labels: Record<string, string> = {},
    taints: V1Taint[] = [],
    options: { wait?: boolean } & WaitOptions = {},
  ): Promise<V1Node> {
    const created = await this.core.createNode({ body: kwokNode(name, labels, taints) });
    if (options.wait === false) return created;
    const [ready] = await this.waitForNodesSchedulable([name], options);
    return ready!;
  }

  /** Deletes the node and waits until it is gone (kwok nodes have no finalizers). */
  /**
   * Waits until the CRD is Established. Polled: `kubectl wait --for=condition=Established` fails at
   * once ("status.conditions accessor error") while a just-created CRD has no status yet.
   */
  async waitForCrdEstablished(name: string, options: WaitOptions = {}): Promise<void> {
    await waitFor(
      `CRD ${name} to be Established`,
      async () => {
        const got = await this.kubectl([
          'get',
          'crd',
          name,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Established")].status}',
        ]);
        return got.stdout.trim() === 'True' ? done(undefined) : notYet(got.stdout);
      },
      options,
    );
  }

  /** Names of the nodes without the control-plane role label, sorted. */
  async workerNames(): Promise<string[]> {
    return (await this.core.listNode()).items
      .filter((n) => n.metadata?.labels?.[CONTROL_PLANE_ROLE] === undefined)
      .map((n) => n.metadata!.name!)
      .sort();
  }

  async deleteNode(name: string, options: WaitOptions = {}): Promise<void> {
    try {
      await this.core.deleteNode({ name });
    } catch (err) {
      if (!isApiError(err, 404)) throw err;
      return;
    }
    await waitFor(
      `node ${name} to be deleted`,
      async () => {
        try {
          return notYet(nodeSummary(await this.core.readNode({ name })));
        } catch (err) {
          if (isApiError(err, 404)) return done(undefined);
          throw err;
        }
      },
      options,
    );
  }

  /** Sets labels; a `null` value removes that label. */
  labelNode(name: string, labels: Record<string, string | null>): Promise<V1Node> {
    return this.updateNode(name, (node) => {
      const current = { ...(node.metadata?.labels ?? {}) };
      for (const [key, value] of Object.entries(labels)) {
        if (value === null) delete current[key];
        else current[key] = value;
      }
      node.metadata = { ...node.metadata, labels: current };
    });
  }

  /** Sets annotations; a `null` value removes that annotation. */
  annotateNode(name: string, annotations: Record<string, string | null>): Promise<V1Node> {
    return this.updateNode(name, (node) => {
      const current = { ...(node.metadata?.annotations ?? {}) };
      for (const [key, value] of Object.entries(annotations)) {
        if (value === null) delete current[key];
        else current[key] = value;
      }
      node.metadata = { ...node.metadata, annotations: current };
    });
  }

  /**
   * Makes a kwok node report NotReady, as a kubelet whose container runtime is down
   * (kwok.yaml's node-simulate-not-ready stage; kwok keeps renewing its Lease), and waits
   * until it is Ready False and kube-controller-manager has tainted it not-ready. Undo
   * with `makeNodeReady`.
   */
  async makeNodeNotReady(name: string, options: WaitOptions = {}): Promise<V1Node> {
    await this.annotateNode(name, { [SIMULATE_ANNOTATION]: 'not-ready' });
    return waitFor(
      `node ${name} to be NotReady and tainted not-ready`,
      async () => {
        const node = await this.core.readNode({ name });
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
        const tainted = (node.spec?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/not-ready');
        return ready === 'False' && tainted ? done(node) : notYet(nodeSummary(node));
      },
      { timeoutMs: 60_000, ...options },
    );
  }

  /** Ends `makeNodeNotReady`: kwok makes the node Ready again; waits until it is schedulable. */
  async makeNodeReady(name: string, options: WaitOptions = {}): Promise<V1Node> {
    await this.annotateNode(name, { [SIMULATE_ANNOTATION]: null });
    const [node] = await this.waitForNodesSchedulable([name], options);
    return node!;
  }

  /** Adds a taint, replacing one with the same key and effect. */
  taintNode(name: string, taint: V1Taint): Promise<V1Node> {
    return this.updateNode(name, (node) => {
      const others = (node.spec?.taints ?? []).filter(
        (t) => !(t.key === taint.key && t.effect === taint.effect),
      );
      node.spec = { ...node.spec, taints: [...others, taint] };
    });
  }

  /** Removes the taints with `key` (and `effect`, when given). */
  untaintNode(name: string, key: string, effect?: string): Promise<V1Node> {
    return this.updateNode(name, (node) => {
      const kept = (node.spec?.taints ?? []).filter(
        (t) => !(t.key === key && (effect === undefined || t.effect === effect)),
      );
      node.spec = { ...node.spec, taints: kept };
    });
  }

  /** Read-modify-write with the read resourceVersion; retried on conflict (kwok and KCM update nodes too). */
  private async updateNode(name: string, change: (node: V1Node) => void): Promise<V1Node> {
    for (let attempt = 1; ; attempt++) {
      const node = await this.core.readNode({ name });
      change(node);
      try {
        return await this.core.replaceNode({ name, body: node });
      } catch (err) {
        if (!isApiError(err, 409) || attempt >= 20) throw err;
        await sleep(50);
      }
    }
  }

  /** Waits until every named node is Ready and untainted by the node-lifecycle controller. */
  async waitForNodesSchedulable(names: readonly string[], options: WaitOptions = {}): Promise<V1Node[]> {
    return waitFor(
      `nodes ${names.join(', ')} to be Ready without not-ready/unreachable taints`,
      async () => {
        const nodes = (await this.core.listNode()).items.filter((n) =>
          names.includes(n.metadata?.name ?? ''),
        );
        const pending = names.filter((name) => {
          const node = nodes.find((n) => n.metadata?.name === name);
          return !node || !nodeIsSchedulable(node);
        });
        if (pending.length === 0)
          return done(names.map((name) => nodes.find((n) => n.metadata?.name === name)!));
        return notYet(
          pending.map((name) => {
            const node = nodes.find((n) => n.metadata?.name === name);
            return node ? nodeSummary(node) : { name, missing: true };
          }),
        );
      },
      { timeoutMs: 90_000, ...options },
    );
  }

  /**
   * Server-side applies every object (YAML text with one or more documents, or
   * objects); namespaced objects without a namespace go to `namespace`.
   */
  async applyManifest(manifest: Manifest, options: { namespace?: string } = {}): Promise<KubernetesObject[]> {
    const applied: KubernetesObject[] = [];
    for (const object of parseManifest(manifest)) {
      const body = structuredClone(object);
      if (options.namespace && body.metadata && !body.metadata.namespace)
        body.metadata.namespace = options.namespace;
      applied.push(
        await this.objects.patch(
          body,
          undefined,
          undefined,
          FIELD_MANAGER,
          true,
          PatchStrategy.ServerSideApply,
        ),
      );
    }
    return applied;
  }

  /** Deletes every object of the manifest (foreground, so dependents go first); missing ones are fine. */
  async deleteManifest(manifest: Manifest, options: { namespace?: string } = {}): Promise<void> {
    for (const object of parseManifest(manifest).reverse()) {
      const body = structuredClone(object);
      if (options.namespace && body.metadata && !body.metadata.namespace)
        body.metadata.namespace = options.namespace;
      try {
        await this.objects.delete(body, undefined, undefined, undefined, undefined, 'Foreground');
      } catch (err) {
        if (!isApiError(err, 404)) throw err;
      }
    }
  }

  /**
   * Creates a namespace with a generated name and waits for its `default`
   * ServiceAccount (the ServiceAccount admission plugin rejects pods until the
   * controller-manager has created it).
   */
  async createNamespace(prefix = 'e2e-', labels: Record<string, string> = {}): Promise<string> {
    const ns = await this.core.createNamespace({ body: { metadata: { generateName: prefix, labels } } });
    const name = ns.metadata!.name!;
    await waitFor(`ServiceAccount default in namespace ${name}`, async () => {
      try {
        return done(await this.core.readNamespacedServiceAccount({ name: 'default', namespace: name }));
      } catch (err) {
        if (isApiError(err, 404)) return notYet('not created yet');
        throw err;
      }
    });
    return name;
  }

  /** Deletes a namespace without waiting for its contents to go. */
  async deleteNamespace(name: string): Promise<void> {
    try {
      await this.core.deleteNamespace({ name });
    } catch (err) {
      if (!isApiError(err, 404)) throw err;
    }
  }

  kubectl(args: readonly string[], options: Omit<RunOptions, 'kubeconfig'> = {}): Promise<RunResult> {
    return runKubectl(args, { ...options, kubeconfig: this.kubeconfigPath });
  }

  helm(args: readonly string[], options: Omit<RunOptions, 'kubeconfig'> = {}): Promise<RunResult> {
    return runHelm(args, { ...options, kubeconfig: this.kubeconfigPath });
  }
}
