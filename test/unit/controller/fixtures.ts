// Fixtures for the planner's tests: small builders for wire-JSON nodes,
// DaemonSets and pods, and a simulated cluster that applies plans the way the
// executor does (so multi-sync scenarios from upstream's tests read as such).
import type {
  V1ControllerRevision,
  V1DaemonSet,
  V1Node,
  V1NodeSelectorTerm,
  V1Pod,
  V1Taint,
  V1Toleration,
} from '@kubernetes/client-node';
import {
  CONTROLLER_REVISION_HASH_LABEL,
  TARGET_NODE_ANNOTATION,
  pinToNode,
} from '../../../src/contract/daemon-pod.ts';
import { computeHash } from '../../../src/controller/hash.ts';
import { planDaemonSet } from '../../../src/controller/plan.ts';
import type { BackoffEntry, Plan, PodInPlaceUpdate, Snapshot } from '../../../src/controller/types.ts';

export const NOW = Date.parse('2026-01-01T00:00:00Z');
export const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const simpleDaemonSetLabel = { name: 'simple-daemon', type: 'production' };
export const simpleNodeLabel = { color: 'blue', speed: 'fast' };

// ---- nodes ----------------------------------------------------------------

export interface NodeOptions {
  labels?: Record<string, string>;
  taints?: V1Taint[];
  unschedulable?: boolean;
}

export function node(name: string, opts: NodeOptions = {}): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `node-uid-${name}`, labels: opts.labels ?? {} },
    spec: { taints: opts.taints, unschedulable: opts.unschedulable },
    status: { conditions: [{ type: 'Ready', status: 'True' }] as never },
  };
}

/** node-0 … node-(n-1), like upstream's addNodes. */
export const nodes = (n: number, opts: NodeOptions = {}, start = 0): V1Node[] =>
  Array.from({ length: n }, (_, i) => node(`node-${start + i}`, opts));

// ---- DaemonSets -------------------------------------------------------------

export type Strategy =
  | { type: 'OnDelete' }
  | {
      type: 'RollingUpdate';
      rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string };
    };

export const onDelete: Strategy = { type: 'OnDelete' };
export const rollingUpdate = (
  maxUnavailable: number | string = 1,
  maxSurge: number | string = 0,
): Strategy => ({
  type: 'RollingUpdate',
  rollingUpdate: { maxUnavailable, maxSurge },
});
export const surge = (maxSurge: number | string): Strategy => rollingUpdate(0, maxSurge);

/** A defaulted apps/v1 DaemonSet as served (upstream's newDaemonSet, RollingUpdate maxUnavailable 1 unless told). */
export function daemonSet(name = 'foo', strategy: Strategy = rollingUpdate()): V1DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name,
      namespace: 'default',
      uid: `ds-uid-${name}`,
      generation: 1,
      annotations: { 'deprecated.daemonset.template.generation': '1' },
    },
    spec: {
      selector: { matchLabels: { ...simpleDaemonSetLabel } },
      revisionHistoryLimit: 10,
      updateStrategy: strategy,
      template: {
        metadata: { labels: { ...simpleDaemonSetLabel } },
        spec: {
          containers: [
            {
              name: 'foo',
              image: 'foo/bar',
              imagePullPolicy: 'IfNotPresent',
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
              resources: {},
            },
          ],
          restartPolicy: 'Always',
          dnsPolicy: 'ClusterFirst',
          schedulerName: 'default-scheduler',
          securityContext: {},
          terminationGracePeriodSeconds: 30,
        },
      },
    },
    status: { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 },
  };
}

/** A template change as the API server makes it: generation and template generation bumped. */
export function changeTemplate(
  ds: V1DaemonSet,
  mutate: (spec: NonNullable<V1DaemonSet['spec']>) => void,
): void {
  mutate(ds.spec!);
  const gen = Number(ds.metadata!.annotations!['deprecated.daemonset.template.generation'] ?? '0') + 1;
  ds.metadata!.annotations!['deprecated.daemonset.template.generation'] = String(gen);
  ds.metadata!.generation = (ds.metadata!.generation ?? 0) + 1;
}

export const setImage = (ds: V1DaemonSet, image: string): void =>
  changeTemplate(ds, (spec) => {
    spec.template.spec!.containers[0]!.image = image;
  });

export const withTolerations = (ds: V1DaemonSet, tolerations: V1Toleration[]): V1DaemonSet => {
  ds.spec!.template.spec!.tolerations = tolerations;
  return ds;
};

export const withNodeSelector = (ds: V1DaemonSet, selector: Record<string, string>): V1DaemonSet => {
  ds.spec!.template.spec!.nodeSelector = selector;
  return ds;
};

export const withRequiredAffinity = (ds: V1DaemonSet, terms: V1NodeSelectorTerm[]): V1DaemonSet => {
  ds.spec!.template.spec!.affinity = {
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
  };
  return ds;
};

// ---- pods ---------------------------------------------------------------------

export interface PodOptions {
  /** Bound by the scheduler (spec.nodeName), default true. */
  bound?: boolean;
  /** Pinned by the required node affinity, default true. */
  pinned?: boolean;
  /** The target-node annotation, default the node. */
  target?: string | null;
  /** controller-revision-hash; default the DaemonSet's current hash (as upstream's newPod), null for none. */
  hash?: string | null;
  generation?: string;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  /** Ready since this time (ms); undefined = not Ready. */
  readySince?: number;
  created?: number;
  deleting?: boolean;
  uid?: string;
}

let podCounter = 0;

/** A pod of `ds` on `nodeName`, named `<node>-<n>`, labelled with the current hash (upstream's newPod). */
export function pod(ds: V1DaemonSet, nodeName: string, opts: PodOptions = {}): V1Pod {
  const n = podCounter++;
  const name = `${nodeName}-${n}`;
  const labels: Record<string, string> = { ...(ds.spec?.template.metadata?.labels ?? {}) };
  const hash =
    opts.hash === undefined ? computeHash(ds.spec?.template, ds.status?.collisionCount) : opts.hash;
  if (hash !== null) labels[CONTROLLER_REVISION_HASH_LABEL] = hash;
  if (opts.generation !== undefined) labels['pod-template-generation'] = opts.generation;
  const annotations: Record<string, string> = {};
  const target = opts.target === undefined ? nodeName : opts.target;
  if (target !== null) annotations[TARGET_NODE_ANNOTATION] = target;
  const spec: Record<string, unknown> = structuredClone(ds.spec?.template.spec ?? {});
  if (opts.pinned ?? true) spec.affinity = pinToNode(undefined, nodeName);
  if (opts.bound ?? true) spec.nodeName = nodeName;
  const status: Record<string, unknown> = { phase: opts.phase ?? 'Running' };
  if (opts.readySince !== undefined) {
    status.conditions = [{ type: 'Ready', status: 'True', lastTransitionTime: iso(opts.readySince) }];
  }
  const metadata: Record<string, unknown> = {
    name,
    namespace: 'default',
    uid: opts.uid ?? `pod-uid-${n}`,
    creationTimestamp: iso(opts.created ?? NOW - 3_600_000 + n * 1000),
    labels,
    annotations,
    ownerReferences: [
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        name: ds.metadata!.name,
        uid: ds.metadata!.uid,
        controller: true,
      },
    ],
  };
  if (opts.deleting) metadata.deletionTimestamp = iso(NOW);
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec, status } as unknown as V1Pod;
}

// ---- snapshots --------------------------------------------------------------

export function snapshot(
  ds: V1DaemonSet,
  nodeList: V1Node[],
  pods: V1Pod[] = [],
  extra: Partial<Snapshot> = {},
): Snapshot {
  return {
    ds,
    nodes: nodeList,
    pods,
    revisions: [],
    now: NOW,
    expectationsSatisfied: true,
    failedPodBackoff: new Map(),
    burst: 250,
    ...extra,
  };
}

export const createdNodes = (plan: Plan): string[] => plan.creates.map((c) => c.nodeName).sort();
export const deletedNames = (plan: Plan): string[] => plan.deletes.map((d) => d.name).sort();

// ---- a simulated cluster -----------------------------------------------------

export interface ClusterOptions {
  /** Created pods get bound by the "scheduler" at once (default true). */
  bind?: boolean;
  burst?: number;
}

/**
 * The API server, scheduler and executor in miniature: `sync()` plans from the
 * current state and applies the plan (history first, then pods, then status),
 * assuming every request succeeds and caches catch up before the next sync
 * (upstream's tests get the same from their fake pod control).
 */
export class Cluster {
  ds: V1DaemonSet;
  nodes: V1Node[];
  pods: V1Pod[] = [];
  revisions: V1ControllerRevision[] = [];
  backoff = new Map<string, BackoffEntry>();
  now = NOW;
  expectationsSatisfied = true;
  /**
   * When true, in-place patches are not applied by sync() but kept in `inFlight` (sent, not yet
   * seen in the cache) until landInPlace(): the executor's detached patches.
   */
  holdInPlace = false;
  readonly inFlight = new Map<string, PodInPlaceUpdate>();
  readonly bind: boolean;
  readonly burst: number;
  private created = 0;

  constructor(ds: V1DaemonSet, nodeList: V1Node[], opts: ClusterOptions = {}) {
    this.ds = ds;
    this.nodes = nodeList;
    this.bind = opts.bind ?? true;
    this.burst = opts.burst ?? 250;
  }

  snapshot(): Snapshot {
    return {
      ds: structuredClone(this.ds),
      nodes: structuredClone(this.nodes),
      pods: structuredClone(this.pods),
      revisions: structuredClone(this.revisions),
      now: this.now,
      expectationsSatisfied: this.expectationsSatisfied,
      failedPodBackoff: new Map(this.backoff),
      burst: this.burst,
      ...(this.inFlight.size > 0 ? { inPlaceInFlight: new Map(this.inFlight) } : {}),
    };
  }

  sync(): Plan {
    const plan = planDaemonSet(this.snapshot());
    this.apply(plan);
    return plan;
  }

  apply(plan: Plan): void {
    const h = plan.history;
    const rev = (name: string) => this.revisions.find((r) => r.metadata?.name === name);
    for (const { name, hash } of h.labelHash) {
      const r = rev(name);
      if (r) r.metadata!.labels = { ...(r.metadata!.labels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash };
    }
    if (h.create && h.createBody) this.revisions.push(JSON.parse(h.createBody) as V1ControllerRevision);
    for (const { name, revision } of h.renumber) {
      const r = rev(name);
      if (r) r.revision = revision;
    }
    for (const { name, hash } of h.relabelPods) {
      const p = this.pods.find((x) => x.metadata?.name === name);
      if (p) p.metadata!.labels = { ...(p.metadata!.labels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash };
    }
    const gone = new Set([...h.deleteDuplicates, ...h.deleteOld]);
    this.revisions = this.revisions.filter((r) => !gone.has(r.metadata?.name ?? ''));
    if (h.collision) {
      this.ds.status = { ...this.ds.status!, collisionCount: (this.ds.status?.collisionCount ?? 0) + 1 };
    }
    if (plan.skipped) return;

    for (const u of plan.inPlaceUpdates) {
      if (this.holdInPlace) this.inFlight.set(u.uid, u);
      else this.applyInPlace(u);
    }
    const deleted = new Set(plan.deletes.map((d) => d.uid));
    this.pods = this.pods.filter((p) => !deleted.has(p.metadata?.uid ?? ''));
    for (const c of plan.creates) {
      const n = this.created++;
      const p = structuredClone(c.pod);
      const meta = p.metadata as unknown as Record<string, unknown>;
      meta.name = `${c.pod.metadata?.generateName}${c.nodeName}-${n}`;
      meta.uid = `sim-uid-${n}`;
      meta.creationTimestamp = iso(this.now + n);
      if (this.bind) p.spec!.nodeName = c.nodeName;
      p.status = { phase: 'Pending' };
      this.pods.push(p);
    }
    for (const { key, entry } of plan.backoffUpdates) this.backoff.set(key, entry);
    if (plan.status) this.ds.status = plan.status;
  }

  /** The API server takes an in-place patch (the cache then shows it). */
  applyInPlace(u: PodInPlaceUpdate): void {
    const p = this.pods.find((x) => x.metadata?.uid === u.uid);
    if (!p) return;
    p.metadata!.labels = { ...(p.metadata!.labels ?? {}), ...u.patch.metadata.labels };
    p.metadata!.annotations = { ...(p.metadata!.annotations ?? {}), ...u.patch.metadata.annotations };
    for (const { name, image } of [
      ...(u.patch.spec?.containers ?? []),
      ...(u.patch.spec?.initContainers ?? []),
    ]) {
      const c = [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].find(
        (x) => x.name === name,
      );
      if (c) c.image = image;
    }
    for (const { name, resources } of u.resize?.spec.containers ?? []) {
      const c = p.spec?.containers.find((x) => x.name === name);
      if (c) c.resources = resources;
    }
  }

  /** A held in-place patch reaches the API server and the cache. */
  landInPlace(uid: string): void {
    const u = this.inFlight.get(uid);
    if (!u) return;
    this.inFlight.delete(uid);
    this.applyInPlace(u);
  }

  /** upstream markPodsReady: every pod Ready (and Running) since now. */
  markPodsReady(since = this.now): void {
    for (const p of this.pods) markReady(p, since);
  }

  podsOn(nodeName: string): V1Pod[] {
    return this.pods.filter((p) => p.spec?.nodeName === nodeName);
  }

  /** The current revision's hash (after a sync). */
  currentHash(): string {
    return this.revisions.reduce((a, b) => ((a.revision ?? 0) >= (b.revision ?? 0) ? a : b)).metadata!
      .labels![CONTROLLER_REVISION_HASH_LABEL]!;
  }
}

/**
 * What a kubelet reports once it has restarted a pod's containers with the images its spec names
 * (after an in-place update): each container running that image, restartCount + 1, Ready since `since`.
 */
export function markRestarted(p: V1Pod, since: number): void {
  const before = p.status?.containerStatuses ?? [];
  p.status = {
    ...(p.status ?? {}),
    containerStatuses: (p.spec?.containers ?? []).map((c) => {
      const old = before.find((s) => s.name === c.name);
      const changed = old?.image !== c.image;
      return {
        name: c.name,
        image: c.image ?? '',
        imageID: `sim://${c.image ?? ''}`,
        ready: true,
        restartCount: (old?.restartCount ?? 0) + (changed ? 1 : 0),
        state: { running: { startedAt: iso(since) as never } },
      };
    }),
  };
  markReady(p, since);
}

export function markReady(p: V1Pod, since: number): void {
  p.status = {
    ...(p.status ?? {}),
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: iso(since) as never }],
  };
}

/** A {creates, deletes} count, the shape of upstream's expectSyncDaemonSets. */
export const counts = (plan: Plan): { creates: number; deletes: number } => ({
  creates: plan.creates.length,
  deletes: plan.deletes.length,
});
