// kubectl's DescribePodTemplate (k8s.io/kubectl pkg/describe/describe.go), as
// `kubectl rollout history --revision=N` prints a revision's pod template:
// labels, annotations, service account, init containers and containers (image,
// ports, command, args, resources, probes, environment, mounts), volumes,
// topology spread constraints, priority class, node selectors, tolerations.
// The same indentation and tabs (kubectl writes this part without a tabwriter).
// Pure. Covers what a DaemonSet's template commonly holds; a volume kind not
// listed here is printed as kubectl prints an unknown one (`<unknown>`).
import type {
  V1Container,
  V1ContainerPort,
  V1PodTemplateSpec,
  V1Probe,
  V1Toleration,
  V1Volume,
} from '@kubernetes/client-node';
import { selectorString } from './rollout-settings.ts';

/** describe's maxAnnotationLen. */
const MAX_ANNOTATION_LEN = 140;
/** PrefixWriter levels: 2 spaces each. */
const level = (n: number) => '  '.repeat(n);

const orNone = (s: string) => (s.length > 0 ? s : '<none>');
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function labelsMultiline(title: string, labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort(cmp);
  if (keys.length === 0) return `${title}:\t<none>\n`;
  return keys.map((k, i) => `${i === 0 ? `${title}:\t` : '\t'}${k}=${labels![k]!}\n`).join('');
}

function annotationsMultiline(title: string, annotations: Record<string, string>): string {
  const keys = Object.keys(annotations)
    .filter((k) => k !== 'kubectl.kubernetes.io/last-applied-configuration')
    .sort(cmp);
  if (keys.length === 0) return `${title}:\t<none>\n`;
  let out = `${title}:\t`;
  keys.forEach((key, i) => {
    if (i !== 0) out += '\t';
    const value = annotations[key]!.replace(/\n$/, '');
    if (value.length + key.length + 2 > MAX_ANNOTATION_LEN || value.includes('\n')) {
      out += `${key}:\n`;
      for (const s of value.split('\n')) {
        const max = MAX_ANNOTATION_LEN - 2;
        out += `\t  ${s.length > max ? `${s.slice(0, max)}...` : s}\n`;
      }
    } else out += `${key}: ${value}\n`;
  });
  return out;
}

const ports = (list: readonly V1ContainerPort[], pick: (p: V1ContainerPort) => number): string =>
  list.map((p) => `${pick(p)}/${p.protocol ?? ''}${p.name ? ` (${p.name})` : ''}`).join(', ');

/** Go's url.URL String for scheme://host/path as DescribeProbe builds it. */
function probeUrl(scheme: string, host: string, path: string): string {
  const p = path !== '' && !path.startsWith('/') ? `/${path}` : path;
  return `${scheme}://${host}${encodeURI(p)}`;
}

const joinHostPort = (host: string, port: string) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/** describe.DescribeProbe. */
export function describeProbe(probe: V1Probe): string {
  const attrs =
    `delay=${probe.initialDelaySeconds ?? 0}s timeout=${probe.timeoutSeconds ?? 0}s ` +
    `period=${probe.periodSeconds ?? 0}s successThreshold=${probe.successThreshold ?? 0} ` +
    `failureThreshold=${probe.failureThreshold ?? 0}`;
  if (probe.exec) return `exec [${(probe.exec.command ?? []).join(' ')}] ${attrs}`;
  if (probe.httpGet) {
    const g = probe.httpGet;
    const port = String(g.port ?? '');
    const host = port.length > 0 ? joinHostPort(g.host ?? '', port) : (g.host ?? '');
    return `http-get ${probeUrl((g.scheme ?? '').toLowerCase(), host, g.path ?? '')} ${attrs}`;
  }
  if (probe.tcpSocket) {
    return `tcp-socket ${probe.tcpSocket.host ?? ''}:${String(probe.tcpSocket.port ?? '')} ${attrs}`;
  }
  if (probe.grpc) return `grpc <pod>:${probe.grpc.port} ${probe.grpc.service ?? ''} ${attrs}`;
  return `unknown ${attrs}`;
}

function describeContainers(label: string, containers: readonly V1Container[]): string {
  let out = `  ${label}:${containers.length === 0 ? ' <none>' : ''}\n`;
  const w = (n: number, s: string) => (out += `${level(n)}${s}\n`);
  for (const c of containers) {
    w(1, ` ${c.name}:`);
    w(2, `Image:\t${c.image ?? ''}`);
    const p = ports(c.ports ?? [], (x) => x.containerPort);
    w(2, p.includes(',') ? `Ports:\t${p}` : `Port:\t${orNone(p)}`);
    const h = ports(c.ports ?? [], (x) => x.hostPort ?? 0);
    w(2, h.includes(',') ? `Host Ports:\t${h}` : `Host Port:\t${orNone(h)}`);
    const seccomp = c.securityContext?.seccompProfile;
    if (seccomp) {
      w(2, `SeccompProfile:\t${seccomp.type}`);
      if (seccomp.type === 'Localhost') w(3, `LocalhostProfile:\t${seccomp.localhostProfile ?? ''}`);
    }
    for (const [title, list] of [
      ['Command', c.command],
      ['Args', c.args],
    ] as const) {
      if (!list || list.length === 0) continue;
      w(2, `${title}:`);
      for (const item of list) for (const s of item.split('\n')) w(3, s);
    }
    for (const [title, list] of [
      ['Limits', c.resources?.limits],
      ['Requests', c.resources?.requests],
    ] as const) {
      const names = Object.keys(list ?? {}).sort(cmp);
      if (names.length === 0) continue;
      w(2, `${title}:`);
      for (const n of names) w(3, `${n}:\t${String(list![n])}`);
    }
    if (c.livenessProbe) w(2, `Liveness:\t${describeProbe(c.livenessProbe)}`);
    if (c.readinessProbe) w(2, `Readiness:\t${describeProbe(c.readinessProbe)}`);
    if (c.startupProbe) w(2, `Startup:\t${describeProbe(c.startupProbe)}`);
    if (c.envFrom && c.envFrom.length > 0) {
      w(2, 'Environment Variables from:');
      for (const e of c.envFrom) {
        const [from, name, optional] = e.configMapRef
          ? ['ConfigMap', e.configMapRef.name ?? '', e.configMapRef.optional === true]
          : e.secretRef
            ? ['Secret', e.secretRef.name ?? '', e.secretRef.optional === true]
            : ['', '', false];
        w(
          3,
          `${name}\t${from}${e.prefix ? ` with prefix '${e.prefix}'` : ''}\tOptional: ${String(optional)}`,
        );
      }
    }
    const env = c.env ?? [];
    w(2, `Environment:${env.length === 0 ? '\t<none>' : ''}`);
    for (const e of env) {
      const from = e.valueFrom;
      if (!from) {
        (e.value ?? '').split('\n').forEach((s, i) => w(3, i === 0 ? `${e.name}:\t${s}` : `\t${s}`));
      } else if (from.fieldRef) {
        w(3, `${e.name}:\t (${from.fieldRef.apiVersion ?? ''}:${from.fieldRef.fieldPath})`);
      } else if (from.resourceFieldRef) {
        // kubectl computes the value from the container's resources; the resource name is what it adds.
        w(3, `${e.name}:\t (${from.resourceFieldRef.resource})`);
      } else if (from.secretKeyRef) {
        const k = from.secretKeyRef;
        w(
          3,
          `${e.name}:\t<set to the key '${k.key}' in secret '${k.name ?? ''}'>\tOptional: ${String(k.optional === true)}`,
        );
      } else if (from.configMapKeyRef) {
        const k = from.configMapKeyRef;
        w(
          3,
          `${e.name}:\t<set to the key '${k.key}' of config map '${k.name ?? ''}'>\tOptional: ${String(k.optional === true)}`,
        );
      }
    }
    const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => cmp(a.mountPath, b.mountPath));
    w(2, `Mounts:${mounts.length === 0 ? '\t<none>' : ''}`);
    for (const m of mounts) {
      const flags = [m.readOnly ? 'ro' : 'rw'];
      if (m.subPath) flags.push(`path=${JSON.stringify(m.subPath)}`);
      w(3, `${m.mountPath} from ${m.name} (${flags.join(',')})`);
    }
    const devices = [...(c.volumeDevices ?? [])].sort((a, b) => cmp(a.devicePath, b.devicePath));
    if (devices.length > 0) {
      w(2, `Devices:${mounts.length === 0 ? '\t<none>' : ''}`);
      for (const d of devices) w(3, `${d.devicePath} from ${d.name}`);
    }
  }
  return out;
}

function describeVolume(v: V1Volume): string {
  const l2 = level(2);
  if (v.hostPath) {
    return `${l2}Type:\tHostPath (bare host directory volume)\n    Path:\t${v.hostPath.path}\n    HostPathType:\t${orNone(v.hostPath.type ?? '')}\n`;
  }
  if (v.emptyDir) {
    const size = v.emptyDir.sizeLimit;
    return `${l2}Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t${v.emptyDir.medium ?? ''}\n    SizeLimit:\t${size && !/^0([a-zA-Z]*)$/.test(String(size)) ? String(size) : '<unset>'}\n`;
  }
  if (v.secret) {
    return `${l2}Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t${v.secret.secretName ?? ''}\n    Optional:\t${String(v.secret.optional === true)}\n`;
  }
  if (v.configMap) {
    return `${l2}Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t${v.configMap.name ?? ''}\n    Optional:\t${String(v.configMap.optional === true)}\n`;
  }
  if (v.persistentVolumeClaim) {
    return `${l2}Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t${v.persistentVolumeClaim.claimName}\n    ReadOnly:\t${String(v.persistentVolumeClaim.readOnly === true)}\n`;
  }
  return `${level(1)}<unknown>\n`;
}

function tolerationsMultiline(title: string, tolerations: readonly V1Toleration[]): string {
  if (tolerations.length === 0) return `${title}:\t<none>\n`;
  const sorted = [...tolerations].sort((a, b) => cmp(a.key ?? '', b.key ?? ''));
  return sorted
    .map((t, i) => {
      let s = i === 0 ? `${title}:\t` : '\t';
      s += t.key ?? '';
      if (t.value) s += `=${t.value}`;
      if (t.effect) s += `:${t.effect}`;
      if (t.operator === 'Exists' && !t.value) s += t.key || t.effect ? ' op=Exists' : 'op=Exists';
      if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null)
        s += ` for ${t.tolerationSeconds}s`;
      return `${s}\n`;
    })
    .join('');
}

/** describe.DescribePodTemplate's text for a template, ending with a newline. */
export function describePodTemplate(template: V1PodTemplateSpec | undefined): string {
  if (!template) return 'Pod Template:\n  <unset>';
  const spec = template.spec;
  let out = 'Pod Template:\n';
  out += labelsMultiline('  Labels', template.metadata?.labels);
  const annotations = template.metadata?.annotations ?? {};
  if (Object.keys(annotations).length > 0) out += annotationsMultiline('  Annotations', annotations);
  if (spec?.serviceAccountName) out += `  Service Account:\t${spec.serviceAccountName}\n`;
  if (spec?.initContainers && spec.initContainers.length > 0) {
    out += describeContainers('Init Containers', spec.initContainers);
  }
  out += describeContainers('Containers', spec?.containers ?? []);
  const volumes = spec?.volumes ?? [];
  if (volumes.length === 0) out += '  Volumes:\t<none>\n';
  else {
    out += '  Volumes:\n';
    for (const v of volumes) out += `${level(1)} ${v.name}:\n${describeVolume(v)}`;
  }
  const spread = [...(spec?.topologySpreadConstraints ?? [])].sort((a, b) =>
    cmp(a.topologyKey, b.topologyKey),
  );
  if (spread.length > 0) {
    out += '  Topology Spread Constraints:\t';
    spread.forEach((t, i) => {
      if (i !== 0) out += '  \t';
      out += `${t.topologyKey}:${t.whenUnsatisfiable} when max skew ${t.maxSkew} is exceeded`;
      if (t.labelSelector) out += ` for selector ${selectorString(t.labelSelector)}`;
      out += '\n';
    });
  }
  if (spec?.priorityClassName) out += `  Priority Class Name:\t${spec.priorityClassName}\n`;
  out += labelsMultiline('  Node-Selectors', spec?.nodeSelector);
  out += tolerationsMultiline('  Tolerations', spec?.tolerations ?? []);
  return out;
}
