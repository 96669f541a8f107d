// For e2e test files: the cluster the global setup started (or was pointed at).
import { inject } from 'vitest';
import { ClusterClient } from './kube.ts';
import type {} from './vitest-context.ts';

export function e2eKubeconfig(): string {
  return inject('kubeconfig');
}

export function e2eCluster(): ClusterClient {
  return new ClusterClient(e2eKubeconfig());
}
