// The Helm chart, statically: `helm lint --strict` and `helm template` for each
// meaningful combination of values, every rendered object accepted by the real
// API server (server-side dry-run, strict field validation), and the properties
// the chart promises (least-privilege RBAC, hardened pods, the webhook
// configuration's exact policy, no certificate baked in at render time).
import { generateCertificateAuthority } from '../../src/lib/certs.ts';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { e2eCluster } from '../harness/e2e.ts';
import {
  CHART,
  KUBE_VERSION,
  find,
  installCertManagerCrds,
  kinds,
  parseObjects,
  renderChart,
  setArgs,
  type Rendered,
} from './chart-support.ts';

const cluster = e2eCluster();
const RELEASE = 'en';
let namespace: string;
let caBundle: string;

beforeAll(async () => {
  await installCertManagerCrds(cluster);
  namespace = await cluster.createNamespace('chart-');
  caBundle = Buffer.from((await generateCertificateAuthority()).certPem).toString('base64');
});

afterAll(async () => {
  await cluster.deleteNamespace(namespace);
});

const DEV_URL = 'https://127.0.0.1:9443/mutate';

/** Each meaningful combination of values: TLS mode, issuer, development URL, replica/HA choices, every knob set. */
const combinations: Record<string, () => Record<string, unknown>> = {
  'cert-manager with its own self-signed CA (defaults)': () => ({}),
  'cert-manager with a user ClusterIssuer': () => ({
    'tls.certManager.issuerRef': { kind: 'ClusterIssuer', name: 'corp-ca' },
  }),
  'cert-manager with a user Issuer': () => ({
    'tls.certManager.issuerRef': { kind: 'Issuer', name: 'team-ca' },
  }),
  'self-managed TLS': () => ({ 'tls.mode': 'self-managed' }),
  'development URL, both processes on the host': () => ({
    'webhook.url': DEV_URL,
    'webhook.caBundle': caBundle,
    'webhook.enabled': false,
    'controller.enabled': false,
  }),
  'development URL, controller in the cluster': () => ({
    'webhook.url': DEV_URL,
    'webhook.caBundle': caBundle,
    'webhook.enabled': false,
  }),
  'single replicas without leader election': () => ({
    'webhook.replicas': 1,
    'controller.replicas': 1,
    'controller.leaderElection.enabled': false,
  }),
  'CRD mode (managed cluster: KCM keeps its DaemonSet controller)': () => ({ mode: 'crd' }),
  'every knob set': () => ({
    'tls.mode': 'self-managed',
    'tls.selfManaged': {
      caValidity: '17520h',
      certValidity: '720h',
      renewBefore: '240h',
      checkInterval: '5m',
    },
    image: { repository: 'example/everynode', tag: 'v9.9.9', pullPolicy: 'Always' },
    imagePullSecrets: [{ name: 'regcred' }],
    logLevel: 'debug',
    'webhook.namespaceSelector': {
      matchExpressions: [{ key: 'everynode.dev/skip', operator: 'DoesNotExist' }],
    },
    'webhook.timeoutSeconds': 10,
    networkUnavailable: 'always',
    'webhook.priorityClassName': 'system-cluster-critical',
    'webhook.nodeSelector': { 'kubernetes.io/os': 'linux' },
    'webhook.tolerations': [
      { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
    ],
    'webhook.affinity': {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 1,
            preference: { matchExpressions: [{ key: 'type', operator: 'In', values: ['kwok'] }] },
          },
        ],
      },
    },
    'webhook.podAnnotations': { 'prometheus.io/scrape': 'true' },
    'webhook.podLabels': { team: 'platform' },
    'webhook.serviceAccount.annotations': { note: 'webhook' },
    'webhook.extraArgs': ['--log-level=trace'],
    'webhook.topologySpreadConstraints': [
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' },
    ],
    'controller.workers': 8,
    'controller.burst': 500,
    'controller.kubeApiQps': 50,
    'controller.kubeApiBurst': 100,
    'controller.eventQps': 5,
    'controller.eventBurst': 25,
    'controller.nodeOptions': '--max-old-space-size=512',
    'controller.priorityClassName': 'system-cluster-critical',
    'controller.resources': { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2Gi' } },
    'controller.extraArgs': ['--log-level=debug'],
  }),
};

describe('helm lint and template', () => {
  it('lints cleanly with --strict for every combination', async () => {
    for (const [name, values] of Object.entries(combinations)) {
      const result = await cluster.helm(
        ['lint', '--strict', CHART, '--kube-version', KUBE_VERSION, ...setArgs(values())],
        {
          allowFailure: true,
        },
      );
      expect({ name, code: result.code, output: result.stdout + result.stderr }).toMatchObject({
        name,
        code: 0,
      });
    }
  });

  it.each(Object.keys(combinations))(
    '%s: every rendered object passes a server-side dry-run',
    async (name) => {
      const { text, objects } = await renderChart(cluster, RELEASE, namespace, combinations[name]!());
      expect(objects.length).toBeGreaterThan(0);
      const result = await cluster.kubectl(
        ['apply', '--dry-run=server', '--validate=strict', '-n', namespace, '-f', '-'],
        {
          input: text,
          allowFailure: true,
        },
      );
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      for (const o of objects) {
        expect(result.stdout).toContain(`${o.metadata!.name} created (server dry run)`);
      }
    },
  );
});

const deployments = (objects: Rendered[]) => objects.filter((o) => o.kind === 'Deployment');
const webhookName = `${RELEASE}-everynode-webhook`;
const controllerName = `${RELEASE}-everynode-controller`;

describe('what the chart renders', () => {
  it('runs the webhook as 2 spread replicas with a PodDisruptionBudget, and the controller as 2 with leader election', async () => {
    const { objects } = await renderChart(cluster, RELEASE, namespace, {});
    const webhook = find(objects, 'Deployment', webhookName);
    expect(webhook.spec.replicas).toBe(2);
    expect(webhook.spec.template.spec.topologySpreadConstraints).toEqual([
      expect.objectContaining({
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
      }),
    ]);
    expect(find(objects, 'PodDisruptionBudget', webhookName).spec).toEqual({
      minAvailable: 1,
      selector: { matchLabels: webhook.spec.selector.matchLabels },
    });
    const service = find(objects, 'Service', webhookName);
    expect(service.spec.ports).toEqual([{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    expect(webhook.spec.template.spec.containers[0].ports).toContainEqual({
      name: 'https',
      containerPort: 9443,
      protocol: 'TCP',
    });

    const controller = find(objects, 'Deployment', controllerName);
    expect(controller.spec.replicas).toBe(2);
    expect(controller.spec.template.spec.containers[0].args).toEqual(
      expect.arrayContaining([
        'controller',
        '--leader-elect=true',
        `--leader-elect-namespace=${namespace}`,
        `--leader-elect-id=${controllerName}`,
      ]),
    );
  });

  it('hardens every pod: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp, no privilege escalation', async () => {
    for (const values of Object.values(combinations)) {
      const { objects } = await renderChart(cluster, RELEASE, namespace, values());
      for (const d of deployments(objects)) {
        const pod = d.spec.template.spec;
        expect(pod.securityContext).toMatchObject({
          runAsNonRoot: true,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        for (const c of pod.containers) {
          expect(c.securityContext).toEqual({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          });
          expect(c.resources.requests).toBeDefined();
          expect(c.resources.limits.memory).toBeDefined();
        }
      }
    }
  });

  it('configures the webhook exactly: Pod CREATE, managed pods only, fail closed, no side effects, 5 s, reinvoked', async () => {
    const { objects } = await renderChart(cluster, RELEASE, namespace, {});
    const config = find(objects, 'MutatingWebhookConfiguration');
    expect(config.webhooks).toHaveLength(1);
    expect(config.webhooks[0]).toEqual({
      name: 'pin.everynode.dev',
      rules: [
        {
          apiGroups: [''],
          apiVersions: ['v1'],
          operations: ['CREATE'],
          resources: ['pods'],
          scope: 'Namespaced',
        },
      ],
      objectSelector: { matchLabels: { 'everynode.dev/managed': 'true' } },
      failurePolicy: 'Fail',
      sideEffects: 'None',
      timeoutSeconds: 5,
      reinvocationPolicy: 'IfNeeded',
      matchPolicy: 'Equivalent',
      admissionReviewVersions: ['v1'],
      clientConfig: { service: { name: webhookName, namespace, port: 443, path: '/mutate' } },
    });
  });

  it('gives the controller exactly the access it uses, with no wildcards, and the webhook none', async () => {
    for (const values of Object.values(combinations)) {
      const { objects } = await renderChart(cluster, RELEASE, namespace, values());
      for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
        for (const rule of role.rules) {
          for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames']) {
            expect(rule[field] ?? []).not.toContain('*');
          }
        }
      }
      for (const binding of objects.filter(
        (o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding',
      )) {
        expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: controllerName, namespace }]);
      }
      const webhookSa = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata?.name === webhookName);
      if (webhookSa) expect(webhookSa.automountServiceAccountToken).toBe(false);
    }

    const { objects } = await renderChart(cluster, RELEASE, namespace, { 'tls.mode': 'self-managed' });
    const rules = (kind: string): string[] =>
      (find(objects, kind).rules as Rendered[]).map((r) =>
        [
          r.apiGroups.join(','),
          r.resources.join(','),
          (r.resourceNames ?? []).join(','),
          r.verbs.join(','),
        ].join(' | '),
      );
    expect(rules('ClusterRole')).toEqual([
      'apps | daemonsets |  | get,list,watch',
      'apps | daemonsets/status |  | update',
      'apps | daemonsets/finalizers |  | update',
      'apps | controllerrevisions |  | get,list,watch,create,update,patch,delete',
      ' | pods |  | get,list,watch,create,delete,patch',
      ' | nodes |  | get,list,watch',
      ' | events |  | create,patch',
      'events.k8s.io | events |  | create,patch',
      `admissionregistration.k8s.io | mutatingwebhookconfigurations | ${namespace}-${RELEASE}-everynode | get,patch`,
    ]);
    expect(find(objects, 'Role').metadata.namespace).toBe(namespace);
    expect(rules('Role')).toEqual([
      'coordination.k8s.io | leases |  | create',
      `coordination.k8s.io | leases | ${controllerName} | get,update`,
      ' | secrets |  | create',
      ` | secrets | ${webhookName}-tls | get,update`,
    ]);
  });

  it('cert-manager mode: a CA chain, a Certificate for the Service names, and CA injection into the webhook configuration', async () => {
    const { objects } = await renderChart(cluster, RELEASE, namespace, {});
    const certificate = find(objects, 'Certificate', webhookName);
    expect(certificate.spec).toMatchObject({
      secretName: `${webhookName}-tls`,
      dnsNames: [`${webhookName}.${namespace}.svc`, `${webhookName}.${namespace}.svc.cluster.local`],
      issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: `${webhookName}-ca` },
    });
    expect(find(objects, 'Certificate', `${webhookName}-ca`).spec).toMatchObject({ isCA: true });
    expect(find(objects, 'Issuer', `${webhookName}-selfsigned`).spec).toEqual({ selfSigned: {} });
    expect(find(objects, 'Issuer', `${webhookName}-ca`).spec).toEqual({
      ca: { secretName: `${webhookName}-ca` },
    });
    const config = find(objects, 'MutatingWebhookConfiguration');
    expect(config.metadata.annotations).toEqual({
      'cert-manager.io/inject-ca-from': `${namespace}/${webhookName}`,
    });
    expect(config.webhooks[0].clientConfig.caBundle).toBeUndefined();

    const user = await renderChart(
      cluster,
      RELEASE,
      namespace,
      combinations['cert-manager with a user ClusterIssuer']!(),
    );
    expect(kinds(user.objects).filter((k) => k === 'Issuer' || k === 'Certificate')).toEqual(['Certificate']);
    expect(find(user.objects, 'Certificate').spec.issuerRef).toEqual({
      group: 'cert-manager.io',
      kind: 'ClusterIssuer',
      name: 'corp-ca',
    });
  });

  it('self-managed mode bakes no certificate in: an empty Secret, no caBundle, and the controller told to manage both', async () => {
    const { text, objects } = await renderChart(cluster, RELEASE, namespace, { 'tls.mode': 'self-managed' });
    expect(text).not.toMatch(/BEGIN CERTIFICATE|PRIVATE KEY|caBundle:/);
    const secret = find(objects, 'Secret', `${webhookName}-tls`);
    expect(secret.data).toBeUndefined();
    expect(secret.type).toBe('Opaque');
    expect(kinds(objects)).not.toContain('Certificate');
    expect(find(objects, 'MutatingWebhookConfiguration').metadata.annotations).toBeUndefined();
    expect(find(objects, 'Deployment', controllerName).spec.template.spec.containers[0].args).toEqual(
      expect.arrayContaining([
        '--tls-mode=self-managed',
        `--tls-secret-namespace=${namespace}`,
        `--tls-secret-name=${webhookName}-tls`,
        `--webhook-configuration-name=${namespace}-${RELEASE}-everynode`,
        `--webhook-service-name=${webhookName}`,
        '--tls-renew-before=720h',
      ]),
    );
    // The webhook mounts only the serving pair, never the CA key kept in the same Secret.
    const volume = find(objects, 'Deployment', webhookName).spec.template.spec.volumes[0];
    expect(volume.secret).toMatchObject({
      secretName: `${webhookName}-tls`,
      items: [
        { key: 'tls.crt', path: 'tls.crt' },
        { key: 'tls.key', path: 'tls.key' },
      ],
    });
  });

  it('development mode renders only the webhook configuration, calling the URL with the given CA', async () => {
    const { objects } = await renderChart(
      cluster,
      RELEASE,
      namespace,
      combinations['development URL, both processes on the host']!(),
    );
    expect(kinds(objects)).toEqual(['MutatingWebhookConfiguration']);
    expect(objects[0]!.webhooks[0].clientConfig).toEqual({ url: DEV_URL, caBundle });
  });

  it('passes every knob through to the pods', async () => {
    const { objects } = await renderChart(cluster, RELEASE, namespace, combinations['every knob set']!());
    const webhook = find(objects, 'Deployment', webhookName).spec.template;
    expect(webhook.metadata.labels.team).toBe('platform');
    expect(webhook.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
    expect(webhook.spec).toMatchObject({
      priorityClassName: 'system-cluster-critical',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      imagePullSecrets: [{ name: 'regcred' }],
      tolerations: [
        { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
      ],
      // A user constraint without a labelSelector gets the webhook's own (one without matches no pod).
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'DoNotSchedule',
          labelSelector: { matchLabels: find(objects, 'Deployment', webhookName).spec.selector.matchLabels },
        },
      ],
    });
    expect(webhook.spec.containers[0]).toMatchObject({
      image: 'example/everynode:v9.9.9',
      imagePullPolicy: 'Always',
    });
    expect(webhook.spec.containers[0].args).toEqual(
      expect.arrayContaining(['--network-unavailable=always', '--log-level=debug', '--log-level=trace']),
    );
    expect(find(objects, 'MutatingWebhookConfiguration').webhooks[0]).toMatchObject({
      timeoutSeconds: 10,
      namespaceSelector: { matchExpressions: [{ key: 'everynode.dev/skip', operator: 'DoesNotExist' }] },
    });
    const controller = find(objects, 'Deployment', controllerName).spec.template.spec.containers[0];
    // One value for both processes: the controller's placement and the webhook's tolerations agree.
    expect(controller.args).toEqual(expect.arrayContaining(['--network-unavailable=always']));
    expect(controller.args).toEqual(
      expect.arrayContaining([
        '--workers=8',
        '--burst=500',
        '--kube-api-qps=50',
        '--kube-api-burst=100',
        '--event-qps=5',
        '--event-burst=25',
        '--tls-check-interval=5m',
      ]),
    );
    expect(controller.env).toEqual([
      { name: 'EVERYNODE_CONTROLLER_NODE_OPTIONS', value: '--max-old-space-size=512' },
    ]);
    expect(controller.resources).toEqual({
      requests: { cpu: '1', memory: '1Gi' },
      limits: { memory: '2Gi' },
    });
  });

  it('omits the PodDisruptionBudget for a single webhook replica, so it never blocks a drain', async () => {
    const { objects } = await renderChart(cluster, RELEASE, namespace, { 'webhook.replicas': 1 });
    expect(kinds(objects)).not.toContain('PodDisruptionBudget');
  });

  it.each([
    ['an unknown key', { 'webhook.replica': 2 }, /additional properties 'replica' not allowed/],
    ['an unknown TLS mode', { 'tls.mode': 'vault' }, /value must be one of/],
    ['a malformed duration', { 'tls.selfManaged.renewBefore': '30d' }, /does not match pattern/],
    ['an out-of-range timeout', { 'webhook.timeoutSeconds': 31 }, /maximum/],
    ['a string replica count', { 'webhook.replicas': '2' }, /got string, want integer/],
    [
      'a non-https URL',
      { 'webhook.url': 'http://127.0.0.1:9443/mutate', 'webhook.enabled': false },
      /webhook\/url/,
    ],
    [
      'a URL without a CA bundle',
      { 'webhook.url': DEV_URL, 'webhook.enabled': false },
      /webhook.url needs webhook.caBundle/,
    ],
    [
      'a URL with the in-cluster webhook on',
      { 'webhook.url': DEV_URL, 'webhook.caBundle': 'QUJD' },
      /set webhook.enabled=false/,
    ],
    [
      'several controllers without leader election',
      { 'controller.leaderElection.enabled': false },
      /needs controller.leaderElection.enabled=true/,
    ],
  ])('refuses %s', async (_name, values, message) => {
    const result = await cluster.helm(
      ['template', RELEASE, CHART, '--kube-version', KUBE_VERSION, ...setArgs(values)],
      {
        allowFailure: true,
      },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });
});

describe('mode=crd', () => {
  const ruleLines = (role: Rendered): string[] =>
    (role.rules as Rendered[]).map((r) =>
      [
        r.apiGroups.join(','),
        r.resources.join(','),
        (r.resourceNames ?? []).join(','),
        r.verbs.join(','),
      ].join(' | '),
    );

  it('passes --mode=crd to the controller only in crd mode', async () => {
    const crd = await renderChart(cluster, RELEASE, namespace, { mode: 'crd' });
    expect(find(crd.objects, 'Deployment', controllerName).spec.template.spec.containers[0].args).toContain(
      '--mode=crd',
    );
    expect(find(crd.objects, 'Deployment', webhookName).spec.template.spec.containers[0].args).not.toContain(
      '--mode=crd',
    );
    const native = await renderChart(cluster, RELEASE, namespace, {});
    for (const d of deployments(native.objects)) {
      expect(d.spec.template.spec.containers[0].args.some((a: string) => a.startsWith('--mode'))).toBe(false);
    }
  });

  it('gives the controller everynode.dev DaemonSets instead of apps/v1 ones, and nothing else changes', async () => {
    const { objects } = await renderChart(cluster, RELEASE, namespace, {
      mode: 'crd',
      'tls.mode': 'self-managed',
    });
    expect(ruleLines(find(objects, 'ClusterRole'))).toEqual([
      'everynode.dev | daemonsets |  | get,list,watch',
      'everynode.dev | daemonsets/status |  | update',
      'everynode.dev | daemonsets/finalizers |  | update',
      'apps | controllerrevisions |  | get,list,watch,create,update,patch,delete',
      ' | pods |  | get,list,watch,create,delete,patch',
      ' | nodes |  | get,list,watch',
      ' | events |  | create,patch',
      'events.k8s.io | events |  | create,patch',
      `admissionregistration.k8s.io | mutatingwebhookconfigurations | ${namespace}-${RELEASE}-everynode | get,patch`,
    ]);
    // apps/v1 DaemonSets are kube-controller-manager's in this mode: not even read access.
    for (const rule of find(objects, 'ClusterRole').rules as Rendered[]) {
      if (rule.apiGroups.includes('apps')) expect(rule.resources).toEqual(['controllerrevisions']);
    }
    const native = await renderChart(cluster, RELEASE, namespace, { 'tls.mode': 'self-managed' });
    expect(ruleLines(find(objects, 'Role'))).toEqual(ruleLines(find(native.objects, 'Role')));
  });

  it('ships the CRD in crds/ (installed by helm install in either mode)', async () => {
    const { stdout } = await cluster.helm(['show', 'crds', CHART]);
    const crds = parseObjects(stdout);
    expect(crds.map((o): unknown[] => [o.kind, o.metadata.name])).toEqual([
      ['CustomResourceDefinition', 'daemonsets.everynode.dev'],
    ]);
  });

  it.each([
    [
      'crd',
      [
        'Mode: crd.',
        'leave kube-controller-manager alone',
        'apiVersion everynode.dev/v1alpha1',
        'kubectl everynode migrate',
        'kubectl apply --server-side -f charts/everynode/crds/',
        'kubectl get evds nginx',
      ],
      ['--controllers=*,-daemonset on'],
    ],
    [
      'native',
      ['Mode: native.', 'turn that off with --controllers=*,-daemonset', 'kubectl rollout status ds/nginx'],
      ['Mode: crd.', 'leave kube-controller-manager alone'],
    ],
  ])('NOTES.txt in %s mode says what to do about kube-controller-manager', async (mode, says, doesNotSay) => {
    const { stdout } = await cluster.helm([
      'install',
      RELEASE,
      CHART,
      '--dry-run=client',
      '--namespace',
      namespace,
      ...setArgs({ mode, 'tls.mode': 'self-managed' }),
    ]);
    const notes = stdout.slice(stdout.indexOf('\nNOTES:\n')).replace(/\s+/g, ' ');
    for (const text of says) expect(notes).toContain(text);
    for (const text of doesNotSay) expect(notes).not.toContain(text);
  });

  it('refuses an unknown mode', async () => {
    const result = await cluster.helm(
      ['template', RELEASE, CHART, '--kube-version', KUBE_VERSION, ...setArgs({ mode: 'hybrid' })],
      { allowFailure: true },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/at '\/mode': value must be one of 'native', 'crd'/);
  });
});
