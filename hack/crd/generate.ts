// Writes charts/everynode/crds/daemonsets.everynode.dev.yaml, the everynode.dev/v1alpha1 DaemonSet
// CRD, from a real kube-apiserver's OpenAPI (see hack/crd/crd.ts for the conversion):
//
//   node hack/crd/generate.ts                       # starts a throwaway control plane in a temp dir
//   node hack/crd/generate.ts --kubeconfig PATH     # uses the API server PATH points at
//   node hack/crd/generate.ts --check [...]         # writes nothing; exit 1 when the file differs
//
// (`make crd`.) Without --kubeconfig it starts the project's own control plane (bin/, `make
// tools`), so the schema always comes from the Kubernetes version the project pins. KUBECONFIG
// is not read: a cluster of another version would silently change the schema.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, stopCluster } from '../../test/harness/cluster.ts';
import { repoRoot } from '../../test/harness/tools.ts';
import { CRD_FILE, generateCrdYaml } from './crd.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node hack/crd/generate.ts [--kubeconfig PATH] [--check]');
    return 0;
  }
  let text: string;
  if (values.kubeconfig) {
    text = await generateCrdYaml(values.kubeconfig);
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'everynode-crd-'));
    console.log(`crd: starting a throwaway control plane in ${dir}`);
    try {
      const state = await startCluster({ dir, nodes: 0, controlPlane: false });
      text = await generateCrdYaml(state.kubeconfig);
    } finally {
      await stopCluster(dir);
    }
  }
  const file = relative(repoRoot, CRD_FILE);
  const current = await readFile(CRD_FILE, 'utf8').catch(() => '');
  if (values.check) {
    if (current === text) {
      console.log(`crd: ${file} is up to date`);
      return 0;
    }
    console.error(`crd: ${file} differs from what the generator produces; run \`make crd\``);
    return 1;
  }
  await writeFile(CRD_FILE, text);
  console.log(`crd: ${current === text ? 'unchanged' : 'wrote'} ${file} (${text.length} bytes)`);
  return 0;
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`crd: ${(err as Error).message}`);
  return 1;
});
