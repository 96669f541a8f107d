// The local control plane for the demo and for poking around:
//   node hack/cluster.ts up [--nodes 4] [--control-plane 1] [--kcm-daemonset off] [--dir .cluster]
//   node hack/cluster.ts status [--dir .cluster]
//   node hack/cluster.ts down [--dir .cluster]
//   node hack/cluster.ts stop|start COMPONENT [--dir .cluster]
// (`make cluster-up NODES=n CONTROL_PLANE=0|1` / `make cluster-down`.) The
// components run detached, so the cluster outlives this command; `down` stops
// them by pid and removes the directory. `stop`/`start` stop one component and
// start it again with the same flags (e.g. `stop kube-apiserver` for an outage).
// `up --stop-command CMD` names what stops the cluster in its last line (the
// demo says `make down`, which also stops its webhook and controller). `up --kcm-daemonset on`
// runs kube-controller-manager's own DaemonSet controller, as on a managed cluster (for CRD mode,
// docs/crd-mode.md); the default, off, is what native mode needs.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ClusterRunningError,
  clusterStatus,
  startCluster,
  startComponent,
  stopCluster,
  stopComponent,
  type Component,
} from '../test/harness/cluster.ts';
import { repoRoot } from '../test/harness/tools.ts';

const usage =
  'usage: node hack/cluster.ts up|down|status [--nodes N] [--control-plane 0|1] [--kcm-daemonset on|off] [--dir DIR] [--stop-command CMD]\n' +
  '       node hack/cluster.ts stop|start etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kwok [--dir DIR]';
const COMPONENT_NAMES: readonly string[] = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] satisfies Component[];

function flag(value: string, name: string): boolean {
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new Error(`--${name} must be 0 or 1 (or on/off), got ${value}`);
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      nodes: { type: 'string', default: '4' },
      'control-plane': { type: 'string', default: '1' },
      'kcm-daemonset': { type: 'string', default: 'off' },
      dir: { type: 'string', default: resolve(repoRoot, '.cluster') },
      'stop-command': { type: 'string', default: 'make cluster-down' },
    },
  });
  const dir = resolve(values.dir);
  const command = positionals[0];
  switch (command) {
    case 'up': {
      const nodes = Number(values.nodes);
      const kcmDaemonSet = flag(values['kcm-daemonset'], 'kcm-daemonset');
      if (!Number.isInteger(nodes) || nodes < 0)
        throw new Error(`--nodes must be a whole number, got ${values.nodes}`);
      const status = clusterStatus(dir);
      if (status.running && status.state) {
        console.log(`A cluster is already running from ${dir}; not starting another.`);
        const kcmArgs = status.state.processes.find((p) => p.component === 'kube-controller-manager')?.args;
        const running = kcmArgs?.includes('--controllers=*');
        if (kcmArgs && running !== kcmDaemonSet) {
          console.log(
            `  note: its kube-controller-manager runs with its DaemonSet controller ${running ? 'on' : 'off'}; ` +
              `for --kcm-daemonset ${kcmDaemonSet ? 'on' : 'off'} stop it first (make cluster-down)`,
          );
        }
        console.log(`  export KUBECONFIG=${status.state.kubeconfig}`);
        return 0;
      }
      try {
        const state = await startCluster({
          dir,
          nodes,
          controlPlane: flag(values['control-plane'], 'control-plane'),
          builtInDaemonSetController: kcmDaemonSet,
          log: (m) => console.log(`cluster: ${m}`),
        });
        console.log(`Cluster up: API server ${state.server}, nodes ${state.nodes.join(', ')}`);
        console.log(
          kcmDaemonSet
            ? "  kube-controller-manager's DaemonSet controller is ON (as on a managed cluster): run everynode with --mode=crd"
            : "  kube-controller-manager's DaemonSet controller is off (native mode)",
        );
        console.log(`  export KUBECONFIG=${state.kubeconfig}`);
        console.log(`  logs: ${dir}/logs/; stop with: ${values['stop-command']}`);
        return 0;
      } catch (err) {
        if (err instanceof ClusterRunningError) {
          console.log(`${err.message}; not starting another.`);
          return 0;
        }
        console.error(`cluster: ${(err as Error).message}`);
        console.error(`cluster: the components it started are stopped; logs are kept in ${dir}/logs/`);
        return 1;
      }
    }
    case 'down': {
      const status = clusterStatus(dir);
      await stopCluster(dir);
      console.log(
        status.state
          ? `Cluster in ${dir} stopped and removed.`
          : `No cluster state in ${dir}; nothing to stop.`,
      );
      return 0;
    }
    case 'status': {
      const status = clusterStatus(dir);
      if (!status.state) {
        console.log(`No cluster in ${dir}.`);
        return 1;
      }
      for (const p of status.state.processes) {
        console.log(
          `${p.component.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${status.components[p.component] ? 'running' : 'NOT RUNNING'}  ${p.log}`,
        );
      }
      console.log(`KUBECONFIG=${status.state.kubeconfig}  server ${status.state.server}`);
      return status.running ? 0 : 1;
    }
    case 'stop':
    case 'start': {
      const component = positionals[1];
      if (!component || !COMPONENT_NAMES.includes(component)) {
        console.error(usage);
        return 2;
      }
      if (command === 'stop') {
        await stopComponent(dir, component as Component);
        console.log(
          `${component} stopped; start it again with: node hack/cluster.ts start ${component} --dir ${dir}`,
        );
      } else {
        const p = await startComponent(dir, component as Component);
        console.log(`${component} is running (pid ${p.pid})`);
      }
      return 0;
    }
    default:
      console.error(usage);
      return 2;
  }
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`cluster: ${(err as Error).message}`);
  return 1;
});
