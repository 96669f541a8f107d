// everynode for the DaemonSet e2e tests: the webhook and the controller run as
// child processes from source (so a test can SIGKILL a controller), the
// webhook is registered with a MutatingWebhookConfiguration of the chart's
// shape (url https://127.0.0.1:<port>/mutate, caBundle, objectSelector on the
// managed label, failurePolicy Fail), and helpers read the DaemonSet's pods as
// the tests assert them. The configuration's namespaceSelector limits it to the
// test file's namespaces, so a webhook left behind by a crashed run can never
// reject another file's pods (except with `clusterWide`, for tests whose
// namespaces are made by someone else, such as upstream's conformance tests).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  CoreV1Event,
  V1DaemonSet,
  V1MutatingWebhookConfiguration,
  V1Pod,
} from '@kubernetes/client-node';
import { generateCertificateAuthority, generateServingCertificate } from '../../../src/lib/certs.ts';
import {
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  TARGET_NODE_ANNOTATION,
  controllerRefOf,
  pinnedNodeOf,
} from '../../../src/contract/daemon-pod.ts';
import { Watch } from '@kubernetes/client-node';
import { isApiError, type ClusterClient } from '../../harness/kube.ts';
import { repoRoot } from '../../harness/tools.ts';
import { done, notYet, waitFor, type WaitOptions } from '../../harness/wait.ts';
import { freePort } from '../chart-support.ts';

// ---- processes --------------------------------------------------------------

/** Every child still running, so a vitest worker that exits abruptly does not leave them behind. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A webhook or controller process started by the fixture. */
export class EverynodeProcess {
  readonly name: string;
  readonly logPath: string;
  readonly metricsPort: number;
  private readonly child: ChildProcess;
  private readonly exit: Promise<void>;
  private exitStatus: string | undefined;
  /** Stopped or killed by the test: its exit is not a failure. */
  private stoppedOnPurpose = false;

  constructor(name: string, args: readonly string[], logPath: string, metricsPort: number) {
    this.name = name;
    this.logPath = logPath;
    this.metricsPort = metricsPort;
    const fd = openSync(logPath, 'a');
    try {
      this.child = spawn(process.execPath, [...args], { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    running.add(this.child);
    this.exit = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitStatus = signal ?? `code ${String(code)}`;
        running.delete(this.child);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** An error describing an exit nobody asked for (with the log's tail), for waitFor's abortIf. */
  unexpectedExit(): Error | undefined {
    if (this.exitStatus === undefined || this.stoppedOnPurpose) return undefined;
    return new Error(`the ${this.name} exited (${this.exitStatus}); its log ends:\n${this.logTail()}`);
  }

  logText(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(chars = 4000): string {
    return this.logText().slice(-chars);
  }

  /** Sends `signal` and waits for the exit (SIGTERM: a graceful shutdown). */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stoppedOnPurpose = true;
    if (this.exitStatus === undefined) this.child.kill(signal);
    await this.exit;
  }

  async metricsText(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    if (!res.ok) throw new Error(`${this.name} /metrics answered ${res.status}`);
    return res.text();
  }

  /** Sum of the samples of `metric` whose labels include `labels` (0 when there is none). */
  async metric(metric: string, labels: Record<string, string> = {}): Promise<number> {
    return sumSamples(await this.metricsText(), metric, labels);
  }

  async waitReady(options: WaitOptions = {}): Promise<void> {
    await waitFor(
      `${this.name} /readyz on port ${this.metricsPort}`,
      async () => {
        const res = await fetch(`http://127.0.0.1:${this.metricsPort}/readyz`);
        return res.ok ? done(undefined) : notYet(`HTTP ${res.status}`);
      },
      { timeoutMs: 60_000, abortIf: () => this.unexpectedExit(), ...options },
    );
  }
}

/** Prometheus text format: the sum of the samples of one metric whose labels include `labels`. */
export function sumSamples(text: string, metric: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    const labelText = line.startsWith(`${metric}{`) ? line.slice(metric.length + 1, line.indexOf('}')) : '';
    const matches = Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`));
    if (matches) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

// ---- the fixture --------------------------------------------------------------

export interface ControllerOptions {
  /** --leader-elect (default false: a single controller needs no Lease, and a restart takes over at once). */
  leaderElect?: boolean;
  /** Name of the Lease (in the fixture's first namespace) when leader election is on. */
  leaseName?: string;
  /** A label for the log file and error messages. */
  label?: string;
  /** More flags, after the fixture's own (e.g. `--mode=crd`). */
  extraArgs?: readonly string[];
}

export interface EverynodeOptions {
  /** Namespaces the webhook configuration applies to (the test file's own). */
  namespaces: readonly string[];
  /** Start one controller right away (default: one, without leader election); false starts none. */
  controller?: ControllerOptions | false;
  /**
   * Register the webhook for pods in every namespace (objectSelector on the
   * managed label only, no namespaceSelector), for tests whose namespaces are
   * created by the code under test (upstream's e2e framework). `namespaces`
   * still hold the webhook probe and the leader-election Lease. Default false.
   */
  clusterWide?: boolean;
  /** `--network-unavailable` given to the webhook and to every controller (default: the processes' default). */
  networkUnavailable?: 'hostNetwork' | 'always' | 'never';
}

/**
 * The webhook (registered and effective), and the controllers the test starts,
 * all authenticating as the cluster admin. Logs are kept in `dir`.
 */
export class Everynode {
  readonly cluster: ClusterClient;
  readonly dir: string;
  readonly namespaces: readonly string[];
  readonly webhookConfigurationName: string;
  readonly webhook: EverynodeProcess;
  readonly controllers: EverynodeProcess[] = [];
  readonly clusterWide: boolean;
  readonly networkUnavailable: EverynodeOptions['networkUnavailable'];
  private readonly caBundle: string;
  private readonly webhookPort: number;

  private constructor(init: {
    cluster: ClusterClient;
    dir: string;
    namespaces: readonly string[];
    webhook: EverynodeProcess;
    webhookPort: number;
    caBundle: string;
    clusterWide: boolean;
    networkUnavailable: EverynodeOptions['networkUnavailable'];
  }) {
    this.cluster = init.cluster;
    this.dir = init.dir;
    this.namespaces = init.namespaces;
    this.webhook = init.webhook;
    this.webhookPort = init.webhookPort;
    this.caBundle = init.caBundle;
    this.clusterWide = init.clusterWide;
    this.networkUnavailable = init.networkUnavailable;
    this.webhookConfigurationName = `everynode-e2e-${init.namespaces[0]!}`;
  }

  static async start(cluster: ClusterClient, options: EverynodeOptions): Promise<Everynode> {
    const dir = await mkdtemp(join(tmpdir(), `everynode-${options.namespaces[0]!}-`));
    const ca = await generateCertificateAuthority({ commonName: 'everynode-e2e-ca' });
    const serving = await generateServingCertificate(ca, { hosts: ['127.0.0.1'], validDays: 7 });
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    await writeFile(certFile, serving.certPem);
    await writeFile(keyFile, serving.keyPem, { mode: 0o600 });
    const [webhookPort, metricsPort] = [await freePort(), await freePort()];
    const webhook = new EverynodeProcess(
      'webhook',
      [
        join(repoRoot, 'src/webhook/main.ts'),
        `--port=${webhookPort}`,
        `--metrics-port=${metricsPort}`,
        `--tls-cert-file=${certFile}`,
        `--tls-private-key-file=${keyFile}`,
        '--bind-address=127.0.0.1',
        ...(options.networkUnavailable ? [`--network-unavailable=${options.networkUnavailable}`] : []),
      ],
      join(dir, 'webhook.log'),
      metricsPort,
    );
    const everynode = new Everynode({
      cluster,
      dir,
      namespaces: options.namespaces,
      webhook,
      webhookPort,
      caBundle: Buffer.from(ca.certPem).toString('base64'),
      clusterWide: options.clusterWide ?? false,
      networkUnavailable: options.networkUnavailable,
    });
    try {
      await webhook.waitReady();
      await everynode.registerWebhook();
      if (options.controller !== false) await everynode.startController(options.controller ?? {});
    } catch (err) {
      await everynode.stop();
      throw err;
    }
    return everynode;
  }

  /** Starts a controller process and waits until its caches are synced (/readyz). */
  async startController(options: ControllerOptions = {}): Promise<EverynodeProcess> {
    const metricsPort = await freePort();
    const label = options.label ?? `controller-${this.controllers.length + 1}`;
    const controller = new EverynodeProcess(
      label,
      [
        join(repoRoot, 'src/controller/main.ts'),
        `--kubeconfig=${this.cluster.kubeconfigPath}`,
        `--metrics-port=${metricsPort}`,
        `--leader-elect=${String(options.leaderElect ?? false)}`,
        `--leader-elect-namespace=${this.namespaces[0]!}`,
        `--leader-elect-id=${options.leaseName ?? 'everynode-e2e'}`,
        // QPS high enough that the client's rate limit is never what a test waits on.
        '--kube-api-qps=100',
        '--kube-api-burst=200',
        '--log-level=debug',
        ...(this.networkUnavailable ? [`--network-unavailable=${this.networkUnavailable}`] : []),
        ...(options.extraArgs ?? []),
      ],
      join(this.dir, `${label}.log`),
      metricsPort,
    );
    this.controllers.push(controller);
    await controller.waitReady();
    return controller;
  }

  /** For waitFor's abortIf: a process died that the test did not stop. */
  readonly failure = (): Error | undefined => {
    for (const p of [this.webhook, ...this.controllers]) {
      const err = p.unexpectedExit();
      if (err) return err;
    }
    return undefined;
  };

  private webhookConfiguration() {
    return {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: this.webhookConfigurationName },
      webhooks: [
        {
          name: 'pin.everynode.dev',
          rules: [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE'],
              resources: ['pods'],
              scope: 'Namespaced',
            },
          ],
          objectSelector: { matchLabels: { [MANAGED_LABEL]: MANAGED_LABEL_VALUE } },
          ...(this.clusterWide
            ? {}
            : {
                namespaceSelector: {
                  matchExpressions: [
                    { key: 'kubernetes.io/metadata.name', operator: 'In', values: [...this.namespaces] },
                  ],
                },
              }),
          failurePolicy: 'Fail',
          sideEffects: 'None',
          timeoutSeconds: 10,
          reinvocationPolicy: 'IfNeeded',
          matchPolicy: 'Equivalent',
          admissionReviewVersions: ['v1'],
          clientConfig: {
            url: `https://127.0.0.1:${this.webhookPort}/mutate`,
            caBundle: this.caBundle,
          },
        },
      ],
    } satisfies V1MutatingWebhookConfiguration;
  }

  /**
   * Creates the MutatingWebhookConfiguration and waits until the API server
   * calls the webhook (it loads configurations asynchronously).
   */
  async registerWebhook(): Promise<void> {
    await this.cluster.applyManifest(this.webhookConfiguration());
    await waitFor(
      'the API server to call the everynode webhook',
      async () =>
        (await this.dryRunIsPinned()) ? done(undefined) : notYet('a dry-run daemon pod came back unpinned'),
      { abortIf: this.failure },
    );
  }

  /** Deletes the MutatingWebhookConfiguration and waits until the API server stops calling the webhook. */
  async unregisterWebhook(): Promise<void> {
    await this.cluster.deleteManifest(this.webhookConfiguration());
    await waitFor('the API server to stop calling the everynode webhook', async () =>
      (await this.dryRunIsPinned()) ? notYet('a dry-run daemon pod came back pinned') : done(undefined),
    );
  }

  /** Dry-run creates a pod that looks like a daemon pod and tells whether the webhook pinned it. */
  private async dryRunIsPinned(): Promise<boolean> {
    const pod = await this.cluster.core.createNamespacedPod({
      namespace: this.namespaces[0]!,
      dryRun: 'All',
      body: {
        metadata: {
          generateName: 'webhook-probe-',
          labels: { [MANAGED_LABEL]: MANAGED_LABEL_VALUE },
          annotations: { [TARGET_NODE_ANNOTATION]: 'webhook-probe-node' },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'DaemonSet',
              name: 'webhook-probe',
              uid: randomUUID(),
              controller: true,
            },
          ],
        },
        spec: { containers: [{ name: 'probe', image: 'registry.k8s.io/pause:3.10' }] },
      },
    });
    return pinnedNodeOf(pod) === 'webhook-probe-node';
  }

  /** Stops every process (controllers first, so none writes after the webhook is gone) and removes the configuration. */
  async stop(): Promise<void> {
    await Promise.all(this.controllers.map((c) => c.kill('SIGTERM')));
    try {
      await this.cluster.deleteManifest(this.webhookConfiguration());
    } finally {
      await this.webhook.kill('SIGTERM');
    }
  }
}

// ---- reading a DaemonSet's pods ------------------------------------------------

/** The node a pod runs on or is pinned to, else the node it was created for. */
export const podNode = (pod: V1Pod): string | undefined =>
  pinnedNodeOf(pod) ?? pod.metadata?.annotations?.[TARGET_NODE_ANNOTATION];

export const isTerminating = (pod: V1Pod): boolean => pod.metadata?.deletionTimestamp != null;

export const isReady = (pod: V1Pod): boolean =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Running, Ready, bound and not terminating. */
export const isServing = (pod: V1Pod): boolean =>
  !isTerminating(pod) && pod.status?.phase === 'Running' && isReady(pod) && !!pod.spec?.nodeName;

/** Pods whose controller is the DaemonSet named `name` (any uid: a re-created DaemonSet counts too). */
export async function podsOf(cluster: ClusterClient, namespace: string, name: string): Promise<V1Pod[]> {
  const pods = await cluster.core.listNamespacedPod({ namespace });
  return pods.items.filter((p) => {
    const ref = controllerRefOf(p);
    return ref?.kind === 'DaemonSet' && ref.name === name;
  });
}

/** `node:phase[:terminating]` of each pod, sorted: what a timeout message should show. */
export const describePods = (pods: readonly V1Pod[]): string[] =>
  pods
    .map(
      (p) =>
        `${p.metadata?.name ?? '?'}@${podNode(p) ?? '(no node)'}:${p.status?.phase ?? '?'}${isReady(p) ? ':ready' : ''}${isTerminating(p) ? ':terminating' : ''}`,
    )
    .sort();

/**
 * Waits until the DaemonSet has exactly one serving pod on each of `nodes` and
 * no other pod at all (none left over, none terminating), and returns them.
 */
export async function waitForDaemonPods(
  cluster: ClusterClient,
  namespace: string,
  name: string,
  nodes: readonly string[],
  options: WaitOptions & { description?: string; accept?: (pod: V1Pod) => boolean } = {},
): Promise<V1Pod[]> {
  const wanted = [...nodes].sort();
  return waitFor(
    options.description ??
      `DaemonSet ${name}: one Running pod on each of [${wanted.join(', ')}] and no other pod`,
    async () => {
      const pods = await podsOf(cluster, namespace, name);
      const on = pods.map((p) => p.spec?.nodeName ?? '(unbound)').sort();
      const ok =
        on.join() === wanted.join() && pods.every((p) => isServing(p) && (options.accept?.(p) ?? true));
      return ok ? done(pods) : notYet(describePods(pods));
    },
    { timeoutMs: 90_000, ...options },
  );
}

export async function readDaemonSet(
  cluster: ClusterClient,
  namespace: string,
  name: string,
): Promise<V1DaemonSet> {
  return cluster.apps.readNamespacedDaemonSet({ namespace, name });
}

/** Waits until the status reflects the current generation and `check` accepts it. */
export async function waitForStatus(
  cluster: ClusterClient,
  namespace: string,
  name: string,
  description: string,
  check: (status: NonNullable<V1DaemonSet['status']>) => boolean,
  options: WaitOptions = {},
): Promise<V1DaemonSet> {
  return waitFor(
    `DaemonSet ${name} status: ${description}`,
    async () => {
      const ds = await readDaemonSet(cluster, namespace, name);
      const status = ds.status;
      const current = status !== undefined && status.observedGeneration === ds.metadata?.generation;
      return current && check(status) ? done(ds) : notYet({ generation: ds.metadata?.generation, status });
    },
    { timeoutMs: 90_000, ...options },
  );
}

/** Events about the object named `name` in `namespace` with `reason`. */
export async function eventsFor(
  cluster: ClusterClient,
  namespace: string,
  name: string,
  reason?: string,
): Promise<CoreV1Event[]> {
  const events = await cluster.core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.name=${name}`,
  });
  return events.items.filter((e) => reason === undefined || e.reason === reason);
}

/** Waits for an event with `reason` about the object named `name` (events are written asynchronously). */
export async function waitForEvent(
  cluster: ClusterClient,
  namespace: string,
  name: string,
  reason: string,
  options: WaitOptions = {},
): Promise<CoreV1Event> {
  return waitFor(
    `a ${reason} event about ${name}`,
    async () => {
      const events = await eventsFor(cluster, namespace, name);
      const found = events.find((e) => e.reason === reason);
      return found ? done(found) : notYet(events.map((e) => `${e.reason ?? '?'}: ${e.message ?? ''}`));
    },
    { timeoutMs: 30_000, ...options },
  );
}

/** Reads a pod, or undefined once it is gone. */
export async function readPodIfExists(
  cluster: ClusterClient,
  namespace: string,
  name: string,
): Promise<V1Pod | undefined> {
  try {
    return await cluster.core.readNamespacedPod({ namespace, name });
  } catch (err) {
    if (isApiError(err, 404)) return undefined;
    throw err;
  }
}

// ---- sampling during a rollout -----------------------------------------------------

/** What a sample keeps of each pod. */
export interface PodSample {
  name: string;
  uid: string;
  node: string | undefined;
  image: string | undefined;
  /** The first container's image as its status reports it (what runs; differs from `image` mid in-place update). */
  runningImage: string | undefined;
  revision: string | undefined;
  /** Ready and not terminating: the pod serves its node. */
  available: boolean;
  terminating: boolean;
}

export interface Sample {
  at: number;
  pods: PodSample[];
}

/**
 * Lists the DaemonSet's pods every `intervalMs` in the background. Each sample
 * is one LIST, so it is one consistent resourceVersion of the cluster.
 */
export class PodSampler {
  readonly samples: Sample[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;
  private watching: AbortController | undefined;

  /**
   * Samples the DaemonSet's pods every `intervalMs` and, between polls, after every pod event
   * of a watch on the namespace: a fast rollout on an idle machine can pass between two polls,
   * but not between two watch events.
   */
  constructor(cluster: ClusterClient, namespace: string, name: string, intervalMs = 200) {
    const record = (pods: V1Pod[]) =>
      this.samples.push({
        at: Date.now(),
        pods: pods.map((p) => ({
          name: p.metadata?.name ?? '',
          uid: p.metadata?.uid ?? '',
          node: podNode(p),
          image: p.spec?.containers[0]?.image,
          runningImage: p.status?.containerStatuses?.find((c) => c.name === p.spec?.containers[0]?.name)
            ?.image,
          revision: p.metadata?.labels?.['controller-revision-hash'],
          available: isReady(p) && !isTerminating(p),
          terminating: isTerminating(p),
        })),
      });
    const ours = (p: V1Pod) => {
      const ref = controllerRefOf(p);
      return ref?.kind === 'DaemonSet' && ref.name === name;
    };
    this.loop = (async () => {
      const list = await cluster.core.listNamespacedPod({ namespace });
      const live = new Map(list.items.filter(ours).map((p) => [p.metadata?.uid ?? '', p]));
      record([...live.values()]);
      if (!this.stopped) {
        this.watching = await new Watch(cluster.kubeConfig).watch(
          `/api/v1/namespaces/${namespace}/pods`,
          { resourceVersion: list.metadata?.resourceVersion },
          (type: string, pod: V1Pod) => {
            if (this.stopped || !ours(pod)) return;
            if (type === 'DELETED') live.delete(pod.metadata?.uid ?? '');
            else if (type === 'ADDED' || type === 'MODIFIED') live.set(pod.metadata?.uid ?? '', pod);
            else return;
            record([...live.values()]);
          },
          () => undefined,
        );
      }
      while (!this.stopped) {
        record(await podsOf(cluster, namespace, name));
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
  }

  async stop(): Promise<Sample[]> {
    this.stopped = true;
    await this.loop;
    this.watching?.abort();
    return this.samples;
  }
}

/** The nodes among `nodes` where the sample shows no available pod. */
export const unavailableNodes = (sample: Sample, nodes: readonly string[]): string[] =>
  nodes.filter((n) => !sample.pods.some((p) => p.node === n && p.available));

/** A short rendering of a sample for assertion messages. */
export const describeSample = (sample: Sample): string =>
  sample.pods
    .map(
      (p) =>
        `${p.name}@${p.node ?? '?'}:${p.image ?? '?'}${p.available ? ':available' : ''}${p.terminating ? ':terminating' : ''}`,
    )
    .sort()
    .join(', ');
