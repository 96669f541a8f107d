// The informer transforms: what the controller's caches keep of nodes and pods.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { nodeForCache, podForCache, withoutManagedFields } from '../../../src/controller/caches.ts';

describe('cache transforms', () => {
  const managedFields = [{ manager: 'kubelet', operation: 'Update', fieldsV1: { 'f:status': {} } }];
  it('drops managedFields and leaves everything else, without changing the input', () => {
    const pod = {
      metadata: { name: 'p', labels: { a: 'b' }, managedFields },
      spec: { containers: [{ name: 'c', image: 'i' }] },
      status: { phase: 'Running' },
    } as unknown as V1Pod;
    const copy = structuredClone(pod);
    const slim = withoutManagedFields(pod);
    expect(slim).toEqual({ ...copy, metadata: { name: 'p', labels: { a: 'b' } } });
    expect(pod).toEqual(copy);
  });
  it('a node keeps its metadata (without managedFields), spec and conditions, nothing else of its status', () => {
    const node = {
      metadata: { name: 'n', labels: { zone: 'a' }, managedFields },
      spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] },
      status: {
        conditions: [{ type: 'Ready', status: 'True' }],
        images: [{ names: ['nginx:1.27'], sizeBytes: 1 }],
        allocatable: { pods: '110' },
      },
    } as unknown as V1Node;
    expect(nodeForCache(node)).toEqual({
      metadata: { name: 'n', labels: { zone: 'a' } },
      spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    });
  });
  it('an object without either is returned as it is', () => {
    const pod = { metadata: { name: 'p' } } as V1Pod;
    expect(withoutManagedFields(pod)).toBe(pod);
  });
  it('a pod keeps what the planner reads', () => {
    const pod = {
      metadata: { name: 'p', labels: { a: 'b' }, annotations: { x: 'y' }, managedFields },
      spec: {
        nodeName: 'n1',
        affinity: { nodeAffinity: {} },
        tolerations: [{ operator: 'Exists' }],
        volumes: [{ name: 'v', emptyDir: {} }],
        containers: [
          { name: 'c', image: 'i', env: [{ name: 'A', value: '1' }], resources: { requests: { cpu: '1' } } },
        ],
        initContainers: [{ name: 'init', image: 'j', command: ['true'] }],
      },
      status: {
        phase: 'Running',
        podIP: '10.0.0.1',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [{ name: 'c', image: 'i', ready: true, restartCount: 0 }],
      },
    } as unknown as V1Pod;
    expect(podForCache(pod)).toEqual({
      metadata: { name: 'p', labels: { a: 'b' }, annotations: { x: 'y' } },
      spec: {
        nodeName: 'n1',
        affinity: { nodeAffinity: {} },
        containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: '1' } } }],
        initContainers: [{ name: 'init', image: 'j' }],
      },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [{ name: 'c', image: 'i', ready: true, restartCount: 0 }],
      },
    });
  });
});
