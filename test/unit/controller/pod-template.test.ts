import { describe, expect, it } from 'vitest';
import { newPod } from '../../../src/controller/pod-template.ts';
import {
  isPodAvailable,
  isPodUpdated,
  oldestPod,
  sortPodsOldestFirst,
  templateGeneration,
} from '../../../src/controller/pods.ts';
import { pinnedNodeOf } from '../../../src/contract/daemon-pod.ts';
import { NOW, daemonSet, pod } from './fixtures.ts';

describe('newPod', () => {
  const ds = daemonSet('fluentd');
  ds.spec!.template.metadata!.annotations = { 'example.com/note': 'x' };
  ds.spec!.template.metadata!.finalizers = ['example.com/keep'];
  ds.spec!.template.spec!.tolerations = [
    { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
  ];
  ds.spec!.template.spec!.affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
      },
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 1, preference: { matchExpressions: [{ key: 'ssd', operator: 'Exists' }] } },
      ],
    },
  };
  const created = newPod(ds, 'node-1', 'abc123', '7');

  it('names, labels and annotates the pod for its node', () => {
    expect(created.metadata).toEqual({
      generateName: 'fluentd-',
      namespace: 'default',
      labels: {
        name: 'simple-daemon',
        type: 'production',
        'controller-revision-hash': 'abc123',
        'pod-template-generation': '7',
        'everynode.dev/managed': 'true',
      },
      annotations: { 'example.com/note': 'x', 'everynode.dev/target-node': 'node-1' },
      finalizers: ['example.com/keep'],
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          name: 'fluentd',
          uid: 'ds-uid-fluentd',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
  });

  it('pins the pod to the node through the required affinity, keeping preferred terms', () => {
    expect(pinnedNodeOf(created)).toBe('node-1');
    expect(created.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual({
      nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] }],
    });
    expect(
      created.spec!.affinity!.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution,
    ).toHaveLength(1);
  });

  it('adds the daemon tolerations after the template ones', () => {
    expect(created.spec!.tolerations!.map((t) => `${t.key}:${t.effect}`)).toEqual([
      'node-role.kubernetes.io/control-plane:NoSchedule',
      'node.kubernetes.io/not-ready:NoExecute',
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/disk-pressure:NoSchedule',
      'node.kubernetes.io/memory-pressure:NoSchedule',
      'node.kubernetes.io/pid-pressure:NoSchedule',
      'node.kubernetes.io/unschedulable:NoSchedule',
    ]);
  });

  it('never sets spec.nodeName, even when the template names the node', () => {
    const pinned = daemonSet();
    pinned.spec!.template.spec!.nodeName = 'node-1';
    const p = newPod(pinned, 'node-1', 'h', undefined);
    expect(p.spec!.nodeName).toBeUndefined();
    expect(pinnedNodeOf(p)).toBe('node-1');
  });

  it('leaves out the generation and hash labels it has no value for', () => {
    const p = newPod(daemonSet(), 'n', '', undefined);
    expect(Object.keys(p.metadata!.labels!).sort()).toEqual(['everynode.dev/managed', 'name', 'type']);
  });

  it('does not share objects with the DaemonSet', () => {
    const source = daemonSet();
    const p = newPod(source, 'n', 'h', '1');
    p.spec!.containers[0]!.image = 'changed';
    p.metadata!.labels!.name = 'changed';
    expect(source.spec!.template.spec!.containers[0]!.image).toBe('foo/bar');
    expect(source.spec!.template.metadata!.labels!.name).toBe('simple-daemon');
  });
});

describe('pod helpers', () => {
  const ds = daemonSet();

  it('templateGeneration parses the annotation as Go ParseInt does', () => {
    const withAnnotation = (v: string) => {
      const d = daemonSet();
      d.metadata!.annotations!['deprecated.daemonset.template.generation'] = v;
      return templateGeneration(d);
    };
    expect(withAnnotation('3')).toBe('3');
    expect(withAnnotation('+03')).toBe('3');
    expect(withAnnotation('x')).toBeUndefined();
    expect(withAnnotation('9223372036854775808')).toBeUndefined();
  });

  it('isPodUpdated accepts the current hash or the current template generation', () => {
    expect(isPodUpdated(pod(ds, 'n', { hash: 'h1' }), 'h1', '2')).toBe(true);
    expect(isPodUpdated(pod(ds, 'n', { hash: 'h0', generation: '2' }), 'h1', '2')).toBe(true);
    expect(isPodUpdated(pod(ds, 'n', { hash: 'h0', generation: '1' }), 'h1', '2')).toBe(false);
    expect(isPodUpdated(pod(ds, 'n', { generation: '2' }), 'h1', undefined)).toBe(false);
  });

  it('isPodAvailable needs Ready for longer than minReadySeconds', () => {
    const ready = pod(ds, 'n', { readySince: NOW - 10_000 });
    expect(isPodAvailable(ready, 0, NOW)).toBe(true);
    expect(isPodAvailable(ready, 9, NOW)).toBe(true);
    expect(isPodAvailable(ready, 10, NOW)).toBe(false);
    expect(isPodAvailable(pod(ds, 'n'), 0, NOW)).toBe(false);
  });

  it('orders bound pods first, then the oldest, then by name (podByCreationTimestampAndPhase)', () => {
    const unboundOld = pod(ds, 'n', { bound: false, created: NOW - 9000 });
    const boundNew = pod(ds, 'n', { created: NOW - 1000 });
    const boundOld = pod(ds, 'n', { created: NOW - 5000 });
    const boundOldTwin = pod(ds, 'a', { created: NOW - 5000 });
    expect(sortPodsOldestFirst([unboundOld, boundNew, boundOld, boundOldTwin])).toEqual([
      boundOldTwin,
      boundOld,
      boundNew,
      unboundOld,
    ]);
  });

  it('oldestPod picks what sortPodsOldestFirst puts first, among the pods a filter accepts', () => {
    const unboundOld = pod(ds, 'n', { bound: false, created: NOW - 9000 });
    const boundNew = pod(ds, 'n', { created: NOW - 1000, hash: 'h1' });
    const boundOld = pod(ds, 'n', { created: NOW - 5000 });
    const boundOldTwin = pod(ds, 'a', { created: NOW - 5000 });
    const all = [unboundOld, boundNew, boundOld, boundOldTwin];
    expect(oldestPod(all)).toBe(boundOldTwin);
    expect(oldestPod([...all].reverse())).toBe(boundOldTwin);
    expect(oldestPod(all, (p) => p !== boundOldTwin)).toBe(boundOld);
    expect(oldestPod(all, (p) => isPodUpdated(p, 'h1', undefined))).toBe(boundNew);
    expect(oldestPod(all, (p) => !p.spec?.nodeName)).toBe(unboundOld);
    expect(oldestPod(all, () => false)).toBeUndefined();
    expect(oldestPod([])).toBeUndefined();
    // Pods the order cannot tell apart: the first one stays, as in the stable sort.
    const twin = structuredClone(boundOld);
    expect(oldestPod([boundOld, twin])).toBe(boundOld);
    expect(sortPodsOldestFirst([boundOld, twin])[0]).toBe(boundOld);
  });
});
