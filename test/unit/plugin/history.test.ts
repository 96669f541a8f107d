// Unit tests of `kubectl everynode rollout history|undo` for an everynode.dev DaemonSet
// (src/plugin/history.ts, describe-template.ts): the table, the revision detail (its pod
// template text checked against kubectl v1.37's own output for the same template), and the undo
// decision and JSON patch. Plain objects, no cluster.
import type { V1ControllerRevision, V1PodTemplateSpec } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { getPatch } from '../../../src/controller/history.ts';
import { describePodTemplate, describeProbe } from '../../../src/plugin/describe-template.ts';
import { historyText, planUndo, revisionTemplate } from '../../../src/plugin/history.ts';
import type { AnyDaemonSet } from '../../../src/plugin/rollout-settings.ts';

/** A served template (as kube-apiserver v1.37 defaults it). */
const template = (image: string): V1PodTemplateSpec =>
  JSON.parse(
    JSON.stringify({
      metadata: { annotations: { note: 'hi' }, labels: { app: 'web' } },
      spec: {
        containers: [
          {
            env: [
              { name: 'A', value: 'b' },
              { name: 'NODE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
            ],
            image,
            imagePullPolicy: 'IfNotPresent',
            name: 'nginx',
            ports: [{ containerPort: 80, name: 'http', protocol: 'TCP' }],
            readinessProbe: {
              failureThreshold: 3,
              httpGet: { path: '/', port: 80, scheme: 'HTTP' },
              periodSeconds: 10,
              successThreshold: 1,
              timeoutSeconds: 1,
            },
            resources: { limits: { memory: '32Mi' }, requests: { cpu: '10m', memory: '16Mi' } },
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
            volumeMounts: [{ mountPath: '/d', name: 'd' }],
          },
        ],
        dnsPolicy: 'ClusterFirst',
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        restartPolicy: 'Always',
        schedulerName: 'default-scheduler',
        securityContext: {},
        serviceAccount: 'default',
        serviceAccountName: 'default',
        terminationGracePeriodSeconds: 30,
        tolerations: [{ operator: 'Exists' }],
        volumes: [{ emptyDir: {}, name: 'd' }],
      },
    }),
  ) as V1PodTemplateSpec;

/** `kubectl rollout history ds/web --revision=1` of kubectl v1.37.2 for template('nginx:1.27'), after its header line. */
const KUBECTL_REVISION_1 = [
  'Pod Template:',
  '  Labels:\tapp=web',
  '  Annotations:\tnote: hi',
  '  Service Account:\tdefault',
  '  Containers:',
  '   nginx:',
  '    Image:\tnginx:1.27',
  '    Port:\t80/TCP (http)',
  '    Host Port:\t0/TCP (http)',
  '    Limits:',
  '      memory:\t32Mi',
  '    Requests:',
  '      cpu:\t10m',
  '      memory:\t16Mi',
  '    Readiness:\thttp-get http://:80/ delay=0s timeout=1s period=10s successThreshold=1 failureThreshold=3',
  '    Environment:',
  '      A:\tb',
  '      NODE:\t (v1:spec.nodeName)',
  '    Mounts:',
  '      /d from d (rw)',
  '  Volumes:',
  '   d:',
  "    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)",
  '    Medium:\t',
  '    SizeLimit:\t<unset>',
  '  Node-Selectors:\tkubernetes.io/os=linux',
  '  Tolerations:\top=Exists',
  '',
  '',
].join('\n');

const UID = 'uid-web';
const evds = (image: string, annotations: Record<string, string> = {}): AnyDaemonSet => ({
  apiVersion: 'everynode.dev/v1alpha1',
  kind: 'DaemonSet',
  metadata: { name: 'web', namespace: 'ns', uid: UID, annotations },
  spec: { selector: { matchLabels: { app: 'web' } }, template: template(image) },
});

const revision = (n: number, image: string, owner = UID, cause?: string): V1ControllerRevision => ({
  metadata: {
    name: `web-${n}`,
    labels: { 'controller-revision-hash': `h${n}` },
    annotations: cause ? { 'kubernetes.io/change-cause': cause } : undefined,
    ownerReferences: [
      { apiVersion: 'everynode.dev/v1alpha1', kind: 'DaemonSet', name: 'web', uid: owner, controller: true },
    ],
  },
  revision: n,
  data: JSON.parse(getPatch(evds(image))) as object,
});

describe('rollout history', () => {
  it('lists the revisions the object controls, in order, with CHANGE-CAUSE or <none>', () => {
    const revisions = [
      revision(12, 'nginx:1.29', UID, 'kubectl set image ds/web nginx=nginx:1.29'),
      revision(2, 'nginx:1.28'),
      revision(3, 'nginx:9', 'someone-else'),
    ];
    expect(historyText(evds('nginx:1.29'), revisions)).toEqual({
      text:
        'daemonset.everynode.dev/web \n' +
        'REVISION  CHANGE-CAUSE\n' +
        '2         <none>\n' +
        '12        kubectl set image ds/web nginx=nginx:1.29\n' +
        '\n',
    });
  });

  it('says there is no history, as kubectl', () => {
    expect(historyText(evds('x'), [])).toEqual({
      text: 'daemonset.everynode.dev/web \nNo rollout history found.\n',
    });
  });

  it("--revision N prints the revision's pod template as kubectl describes it", () => {
    const result = historyText(evds('nginx:1.28'), [revision(1, 'nginx:1.27'), revision(2, 'nginx:1.28')], 1);
    expect(result).toEqual({ text: `daemonset.everynode.dev/web with revision #1\n${KUBECTL_REVISION_1}` });
    expect(historyText(evds('x'), [revision(1, 'x')], 7)).toEqual({
      error: 'unable to find the specified revision',
    });
  });

  it("the revision's template is its data without $patch", () => {
    const t = revisionTemplate(revision(1, 'nginx:1.27'));
    expect(t).toEqual(template('nginx:1.27'));
    expect(t).not.toHaveProperty('$patch');
  });
});

describe('describePodTemplate', () => {
  it('matches kubectl for a typical template', () => {
    expect(`${describePodTemplate(template('nginx:1.27'))}\n`).toBe(KUBECTL_REVISION_1);
  });

  it('probes, command, host ports and other volumes', () => {
    expect(describeProbe({ exec: { command: ['cat', '/ok'] }, periodSeconds: 5 })).toBe(
      'exec [cat /ok] delay=0s timeout=0s period=5s successThreshold=0 failureThreshold=0',
    );
    expect(describeProbe({ tcpSocket: { port: 'dns' } })).toContain('tcp-socket :dns ');
    const text = describePodTemplate({
      metadata: {},
      spec: {
        containers: [
          {
            name: 'a',
            image: 'i',
            command: ['sh', '-c'],
            args: ['run'],
            ports: [
              { containerPort: 53, hostPort: 53, protocol: 'UDP' },
              { containerPort: 53, hostPort: 53, protocol: 'TCP' },
            ],
          },
        ],
        volumes: [{ name: 'h', hostPath: { path: '/var/log', type: 'Directory' } }],
        tolerations: [
          { key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule', tolerationSeconds: 5 },
        ],
      },
    });
    expect(text).toContain('  Labels:\t<none>\n');
    expect(text).toContain('    Ports:\t53/UDP, 53/TCP\n    Host Ports:\t53/UDP, 53/TCP\n');
    expect(text).toContain('    Command:\n      sh\n      -c\n    Args:\n      run\n');
    expect(text).toContain('    Environment:\t<none>\n    Mounts:\t<none>\n');
    expect(text).toContain(
      '    Type:\tHostPath (bare host directory volume)\n    Path:\t/var/log\n    HostPathType:\tDirectory\n',
    );
    expect(text).toContain('  Tolerations:\tk=v:NoSchedule for 5s\n');
  });
});

describe('rollout undo', () => {
  const revisions = [revision(1, 'nginx:1.27'), revision(2, 'nginx:1.28'), revision(3, 'nginx:1.29')];

  it('defaults to the previous revision and replaces spec.template with its template', () => {
    expect(planUndo(evds('nginx:1.29'), revisions, 0)).toEqual({
      patch: [{ op: 'replace', path: '/spec/template', value: template('nginx:1.28') }],
      line: 'daemonset.everynode.dev/web rolled back',
      warnings: [],
    });
    expect(planUndo(evds('nginx:1.29'), revisions, 1)).toMatchObject({
      patch: [{ value: template('nginx:1.27') }],
    });
  });

  it('is skipped when the template already matches the revision', () => {
    expect(planUndo(evds('nginx:1.28'), revisions, 2)).toEqual({
      line: 'daemonset.everynode.dev/web skipped rollback (current template already matches revision 2)',
      warnings: [],
    });
  });

  it("refuses what kubectl refuses, and warns about kubectl apply's annotation", () => {
    expect(planUndo(evds('x'), [revision(1, 'x')], 0)).toEqual({ error: 'no last revision to roll back to' });
    expect(planUndo(evds('x'), revisions, 9)).toEqual({
      error: 'unable to find specified revision 9 in history',
    });
    const applied = evds('nginx:1.29', { 'kubectl.kubernetes.io/last-applied-configuration': '{}' });
    const plan = planUndo(applied, revisions, 1);
    expect('warnings' in plan && plan.warnings[0]).toContain("was previously managed with 'kubectl apply'");
  });

  it('--dry-run=client says what it would restore and sends nothing', () => {
    const plan = planUndo(evds('nginx:1.29'), revisions, 1, 'client');
    expect(plan).not.toHaveProperty('patch');
    expect('line' in plan && plan.line).toMatch(
      /^daemonset\.everynode\.dev\/web will roll back to Pod Template:\n/,
    );
  });
});
