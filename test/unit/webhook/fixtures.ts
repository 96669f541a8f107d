// Wire-JSON pods as the API server hands them to the webhook on CREATE: built
// from the classic DaemonSet tutorials' templates, the way everynode's
// controller creates them (generateName, controller owner reference, the
// target-node annotation and managed label), after the API server's defaulting.
import type { V1Pod, V1Toleration } from '@kubernetes/client-node';
import { applyPatch } from 'rfc6902';
import request from 'supertest';
import { expect } from 'vitest';
import { MANAGED_LABEL, TARGET_NODE_ANNOTATION } from '../../../src/contract/daemon-pod.ts';

export const NODE = 'worker-1';

export const daemonSetOwner = (name: string) => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  name,
  uid: `0b6c1a6e-5d0a-4b9e-9d4e-${name.length.toString().padStart(12, '0')}`,
  controller: true,
  blockOwnerDeletion: true,
});

function daemonPod(
  dsName: string,
  namespace: string,
  spec: Record<string, unknown>,
  node: string = NODE,
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${dsName}-`,
      namespace,
      labels: {
        name: dsName,
        'controller-revision-hash': '6d5f7c8b9',
        'pod-template-generation': '1',
        [MANAGED_LABEL]: 'true',
      },
      annotations: { [TARGET_NODE_ANNOTATION]: node },
      ownerReferences: [daemonSetOwner(dsName)],
    },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      securityContext: {},
      ...spec,
    },
  } as unknown as V1Pod;
}

/** The nginx DaemonSet of the everynode demo. */
export const nginxPod = (node?: string): V1Pod =>
  daemonPod(
    'nginx',
    'default',
    {
      containers: [
        {
          name: 'nginx',
          image: 'nginx:1.27',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          imagePullPolicy: 'IfNotPresent',
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          resources: {},
        },
      ],
    },
    node,
  );

/** The fluentd-elasticsearch log collector of the Kubernetes DaemonSet documentation. */
export const fluentdPod = (node?: string): V1Pod =>
  daemonPod(
    'fluentd-elasticsearch',
    'kube-system',
    {
      tolerations: [
        { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
        // What the DefaultTolerationSeconds admission plugin adds before webhooks run.
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
      containers: [
        {
          name: 'fluentd-elasticsearch',
          image: 'fluent/fluentd-kubernetes-daemonset:v1.17-debian-elasticsearch8-1',
          env: [
            { name: 'FLUENT_ELASTICSEARCH_HOST', value: 'elasticsearch-logging.kube-system.svc' },
            { name: 'FLUENT_ELASTICSEARCH_PORT', value: '9200' },
          ],
          resources: { limits: { memory: '200Mi' }, requests: { cpu: '100m', memory: '200Mi' } },
          volumeMounts: [
            { name: 'varlog', mountPath: '/var/log' },
            { name: 'varlogpods', mountPath: '/var/log/pods', readOnly: true },
          ],
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      volumes: [
        { name: 'varlog', hostPath: { path: '/var/log', type: '' } },
        { name: 'varlogpods', hostPath: { path: '/var/log/pods', type: '' } },
      ],
    },
    node,
  );

/** A hostNetwork network agent (CNI-style) that already tolerates network-unavailable itself. */
export const networkAgentPod = (node?: string): V1Pod =>
  daemonPod(
    'network-agent',
    'kube-system',
    {
      hostNetwork: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      priorityClassName: 'system-node-critical',
      priority: 2000001000,
      tolerations: [
        { key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' },
        { operator: 'Exists', effect: 'NoExecute' },
      ],
      containers: [
        {
          name: 'agent',
          image: 'registry.example/network-agent:v1.4.2',
          securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
          volumeMounts: [{ name: 'cni', mountPath: '/host/etc/cni/net.d' }],
        },
      ],
      volumes: [{ name: 'cni', hostPath: { path: '/etc/cni/net.d', type: 'DirectoryOrCreate' } }],
    },
    node,
  );

/** The upstream daemon tolerations, as the patched pod must carry them. */
export const DAEMON_TOLERATIONS: V1Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];
export const NETWORK_UNAVAILABLE: V1Toleration = {
  key: 'node.kubernetes.io/network-unavailable',
  operator: 'Exists',
  effect: 'NoSchedule',
};

export const pinnedRequired = (node: string) => ({
  nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
});

let uidCounter = 0;

export function admissionReview(pod: unknown, overrides: Record<string, unknown> = {}) {
  uidCounter += 1;
  const uid = `705ab4f5-6393-11e8-b7cc-${String(uidCounter).padStart(12, '0')}`;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: (pod as V1Pod | undefined)?.metadata?.namespace ?? 'default',
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:everynode-system:everynode-controller',
        groups: ['system:serviceaccounts'],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      ...overrides,
    },
  };
}

export interface Admission {
  uid: string;
  response: {
    uid: string;
    allowed: boolean;
    patchType?: string;
    patch?: string;
    status?: { code: number; reason?: string; message: string };
  };
  /** The decoded JSON Patch (empty when none). */
  ops: { op: string; path: string; value?: unknown }[];
  /** The request's pod with the patch applied. */
  pod: V1Pod;
}

/** Sends the pod through POST /mutate, checks the envelope, and applies the returned patch to a copy of the pod. */
export async function admit(
  app: Parameters<typeof request>[0],
  pod: unknown,
  overrides: Record<string, unknown> = {},
): Promise<Admission> {
  const review = admissionReview(pod, overrides);
  const res = await request(app)
    .post('/mutate')
    .set('Content-Type', 'application/json')
    .send(JSON.stringify(review));
  expect(res.status).toBe(200);
  expect(res.body.apiVersion).toBe('admission.k8s.io/v1');
  expect(res.body.kind).toBe('AdmissionReview');
  const response = res.body.response as Admission['response'];
  expect(response.uid).toBe(review.request.uid);
  const ops = response.patch ? JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) : [];
  if (response.patch) expect(response.patchType).toBe('JSONPatch');
  const patched = structuredClone(pod) as V1Pod;
  const errors = applyPatch(patched, ops);
  expect(errors.every((e) => e === null)).toBe(true);
  return { uid: review.request.uid, response, ops, pod: patched };
}
