// The informer transforms: what the controller's caches keep of nodes and pods.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { nodeForCache, withoutManagedFields } from '../../../src/controller/caches.ts';

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
  it('a node loses its managedFields and image list, keeps labels, taints and conditions', () => {
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
      status: { conditions: [{ type: 'Ready', status: 'True' }], allocatable: { pods: '110' } },
    });
  });
  it('an object without either is returned as it is', () => {
    const pod = { metadata: { name: 'p' } } as V1Pod;
    expect(withoutManagedFields(pod)).toBe(pod);
  });
});
