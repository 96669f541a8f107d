// A realistic admission request for the benchmark: a DaemonSet pod as the API
// server hands it to a mutating webhook on CREATE (after defaulting, the
// service-account token volume, DefaultTolerationSeconds and managedFields).
export function benchmarkReview(uid: string): unknown {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'fluentd-elasticsearch-',
      namespace: 'kube-system',
      labels: {
        name: 'fluentd-elasticsearch',
        'k8s-app': 'fluentd-logging',
        'controller-revision-hash': '7c9f8d6b5d',
        'pod-template-generation': '3',
        'everynode.dev/managed': 'true',
      },
      annotations: {
        'everynode.dev/target-node': 'worker-17.zone-b.example.internal',
        'kubectl.kubernetes.io/restartedAt': '2026-01-12T09:30:00Z',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          name: 'fluentd-elasticsearch',
          uid: '5f0c7c3e-2a47-4d0e-9b8b-0f3b6a8e2d11',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'everynode-controller',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-01-12T09:31:02Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': {
                '.': {},
                'f:everynode.dev/target-node': {},
                'f:kubectl.kubernetes.io/restartedAt': {},
              },
              'f:generateName': {},
              'f:labels': {
                '.': {},
                'f:controller-revision-hash': {},
                'f:everynode.dev/managed': {},
                'f:k8s-app': {},
                'f:name': {},
                'f:pod-template-generation': {},
              },
              'f:ownerReferences': { '.': {}, 'k:{"uid":"5f0c7c3e-2a47-4d0e-9b8b-0f3b6a8e2d11"}': {} },
            },
            'f:spec': {
              'f:containers': {
                'k:{"name":"fluentd-elasticsearch"}': {
                  '.': {},
                  'f:env': {
                    '.': {},
                    'k:{"name":"FLUENT_ELASTICSEARCH_HOST"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                    'k:{"name":"FLUENT_ELASTICSEARCH_PORT"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                  },
                  'f:image': {},
                  'f:imagePullPolicy': {},
                  'f:name': {},
                  'f:resources': {
                    '.': {},
                    'f:limits': { '.': {}, 'f:memory': {} },
                    'f:requests': { '.': {}, 'f:cpu': {}, 'f:memory': {} },
                  },
                  'f:volumeMounts': {
                    '.': {},
                    'k:{"mountPath":"/var/log"}': { '.': {}, 'f:mountPath': {}, 'f:name': {} },
                    'k:{"mountPath":"/var/log/pods"}': {
                      '.': {},
                      'f:mountPath': {},
                      'f:name': {},
                      'f:readOnly': {},
                    },
                  },
                },
              },
              'f:tolerations': {},
              'f:volumes': {
                '.': {},
                'k:{"name":"varlog"}': {
                  '.': {},
                  'f:hostPath': { '.': {}, 'f:path': {}, 'f:type': {} },
                  'f:name': {},
                },
                'k:{"name":"varlogpods"}': {
                  '.': {},
                  'f:hostPath': { '.': {}, 'f:path': {}, 'f:type': {} },
                  'f:name': {},
                },
              },
            },
          },
        },
      ],
    },
    spec: {
      volumes: [
        { name: 'varlog', hostPath: { path: '/var/log', type: '' } },
        { name: 'varlogpods', hostPath: { path: '/var/log/pods', type: '' } },
        {
          name: 'kube-api-access-7xk2p',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [
                    { path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
                  ],
                },
              },
            ],
            defaultMode: 420,
          },
        },
      ],
      containers: [
        {
          name: 'fluentd-elasticsearch',
          image: 'fluent/fluentd-kubernetes-daemonset:v1.17-debian-elasticsearch8-1',
          env: [
            { name: 'FLUENT_ELASTICSEARCH_HOST', value: 'elasticsearch-logging.kube-system.svc' },
            { name: 'FLUENT_ELASTICSEARCH_PORT', value: '9200' },
          ],
          resources: { limits: { memory: '200Mi' }, requests: { cpu: '100m', memory: '200Mi' } },
          volumeMounts: [
            { name: 'varlog', mountPath: '/var/log' },
            { name: 'varlogpods', readOnly: true, mountPath: '/var/log/pods' },
            {
              name: 'kube-api-access-7xk2p',
              readOnly: true,
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
            },
          ],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {},
  };
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'kube-system',
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:everynode-system:everynode-controller',
        uid: '8d3f1a52-7a8b-4c43-9d7e-4a9b2c1e0f66',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:everynode-system', 'system:authenticated'],
        extra: {
          'authentication.kubernetes.io/pod-name': ['everynode-controller-6b8d9c7f5-x2v9q'],
          'authentication.kubernetes.io/pod-uid': ['0e2b7c41-93d5-4f1a-b6a8-5c2d9e7f3a10'],
        },
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'everynode-controller' },
    },
  };
}
