// Shared by the chart e2e tests: rendering the chart, reading the objects it
// renders, and cert-manager's CRDs for the cert-manager TLS mode.
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { ClusterClient } from '../harness/kube.ts';
import { repoRoot } from '../harness/tools.ts';

export const CHART = join(repoRoot, 'charts/everynode');
/** The cluster's version, so `helm template` checks against it rather than Helm's built-in default. */
export const KUBE_VERSION = '1.37.2';
export const CERT_MANAGER_MODULE = 'github.com/cert-manager/cert-manager@v1.21.1';

/** A rendered object, loosely typed: tests read fields by path. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Rendered = Record<string, any>;

export function parseObjects(yamlText: string): Rendered[] {
  return parseAllDocuments(yamlText)
    .map((doc) => {
      if (doc.errors.length > 0)
        throw new Error(`helm rendered bad YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as Rendered | null;
    })
    .filter((o): o is Rendered => o !== null && typeof o === 'object');
}

/** `--set k=v` pairs for helm from a flat map (values containing commas go through --set-json). */
export function setArgs(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);
}

export async function renderChart(
  cluster: ClusterClient,
  release: string,
  namespace: string,
  values: Record<string, unknown>,
): Promise<{ text: string; objects: Rendered[] }> {
  const { stdout } = await cluster.helm([
    'template',
    release,
    CHART,
    '--namespace',
    namespace,
    '--kube-version',
    KUBE_VERSION,
    ...setArgs(values),
  ]);
  return { text: stdout, objects: parseObjects(stdout) };
}

export const find = (objects: Rendered[], kind: string, name?: string): Rendered => {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  if (!found)
    throw new Error(
      `no ${kind}${name ? ` ${name}` : ''} among ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`,
    );
  return found;
};

export const kinds = (objects: Rendered[]): string[] => objects.map((o) => String(o.kind)).sort();

/**
 * cert-manager's CRDs, from its Go module (the module cache keeps it, so only
 * the first run downloads), applied server-side and waited for.
 */
export async function installCertManagerCrds(cluster: ClusterClient): Promise<void> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('go', ['mod', 'download', '-json', CERT_MANAGER_MODULE], {
      // Outside any module, so no go.mod is consulted or changed.
      cwd: tmpdir(),
      maxBuffer: 16 * 1024 * 1024,
      timeout: 300_000,
    }));
  } catch (err) {
    throw new Error(
      `downloading ${CERT_MANAGER_MODULE} for its CRDs failed (needs Go): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const { Dir } = JSON.parse(stdout) as { Dir?: string };
  if (!Dir) throw new Error(`go mod download gave no directory for ${CERT_MANAGER_MODULE}: ${stdout}`);
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(Dir, 'deploy/crds')]);
  await cluster.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/certificates.cert-manager.io',
    'crd/issuers.cert-manager.io',
    'crd/clusterissuers.cert-manager.io',
  ]);
}
