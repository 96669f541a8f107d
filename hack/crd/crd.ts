// The everynode.dev/v1alpha1 DaemonSet CRD (CRD mode, docs/crd-mode.md), built from the real
// kube-apiserver's OpenAPI: `spec` is io.k8s.api.apps.v1.DaemonSetSpec field for field plus the
// typed `rollout` block, `status` is io.k8s.api.apps.v1.DaemonSetStatus. hack/crd/generate.ts is the
// command; test/e2e/crd-schema.test.ts runs `generateCrdYaml` against its API server and compares
// the result with the checked-in file (drift guard).
//
// From OpenAPI v3 to a CRD structural schema:
// - every `$ref`, bare or wrapped in `allOf: [{$ref}]`, is inlined; the referring property's own
//   description (more specific than the type's) wins. A recursive type fails the generator (the
//   DaemonSet's types have none; a cycle would need a depth cap).
// - IntOrString and Quantity become `x-kubernetes-int-or-string: true` with `anyOf: [integer, string]`
//   (Quantity also gets the quantity pattern, as controller-gen emits it).
// - ObjectMeta (spec.template.metadata, ephemeral volume claim templates) becomes an object with
//   typed `labels` and `annotations` maps and `x-kubernetes-preserve-unknown-fields: true`: a CRD
//   prunes undeclared fields, and an untyped `metadata: {type: object}` would lose the labels.
// - kept: description, type, format, enum, required, properties, items, additionalProperties, the
//   x-kubernetes list/map keywords; dropped: x-kubernetes-group-version-kind, the patch-strategy and
//   union extensions (not part of a CRD schema). Any other keyword fails the generator, so a new one
//   upstream is looked at rather than copied blindly.
// - `default`: only real defaults (`+default=` markers, e.g. ContainerPort.protocol "TCP") are
//   kept. OpenAPI also writes the Go zero value ("", 0, false, {}) of every non-pointer field as a
//   default; as CRD defaults those would be written into every object (and `{}` for PodSpec fails
//   its own `required: [containers]`), so they are dropped.
// - an enum of an optional string field also allows "": apps/v1 treats "" as unset (defaulting
//   fills it), e.g. a toleration's `effect: ""` means every effect.
// - CEL `x-kubernetes-validations` for what apps/v1 validation refuses and a schema cannot say
//   (RULES below), and bounds (minimum) where apps/v1 checks them.
import { stringify } from 'yaml';
import { format as prettierFormat, resolveConfig } from 'prettier';
import { join } from 'node:path';
import { EVERYNODE_DAEMONSET, EVERYNODE_DAEMONSET_SHORT_NAME } from '../../src/contract/daemon-pod.ts';
import { kubectl, repoRoot } from '../../test/harness/tools.ts';

export const CRD_NAME = `${EVERYNODE_DAEMONSET.plural}.${EVERYNODE_DAEMONSET.group}`;
export const CRD_FILE = join(repoRoot, 'charts/everynode/crds', `${CRD_NAME}.yaml`);
export const OPENAPI_PATH = '/openapi/v3/apis/apps/v1';

/** An OpenAPI v3 / JSON-schema node, loosely typed: the converter reads it by keyword. */
export type Schema = Record<string, unknown>;
interface OpenApiDocument {
  components: { schemas: Record<string, Schema> };
}

const SCHEMA_PREFIX = '#/components/schemas/';
const APPS = 'io.k8s.api.apps.v1';
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/** controller-gen's pattern for resource.Quantity strings. */
const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** Keywords copied as they are. */
const KEPT = new Set([
  'description',
  'type',
  'format',
  'enum',
  'required',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'pattern',
]);
/** Keywords a CRD schema has no place for. */
const DROPPED = new Set([
  'x-kubernetes-group-version-kind',
  'x-kubernetes-patch-strategy',
  'x-kubernetes-patch-merge-key',
  'x-kubernetes-unions',
  'discriminator',
  'fields-to-discriminateBy',
]);

const NONE: ReadonlySet<string> = new Set();

const isZeroValue = (v: unknown): boolean =>
  v === '' ||
  v === 0 ||
  v === false ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

const refOf = (node: Schema): string | undefined => {
  const direct = node.$ref;
  if (typeof direct === 'string') return direct;
  const allOf = node.allOf;
  if (Array.isArray(allOf) && allOf.length === 1) {
    const ref = (allOf[0] as Schema).$ref;
    if (typeof ref === 'string') return ref;
  }
  return undefined;
};

class Converter {
  private readonly schemas: Record<string, Schema>;
  private readonly stack: string[] = [];
  constructor(doc: OpenApiDocument) {
    this.schemas = doc.components.schemas;
  }

  definition(name: string): Schema {
    const s = this.schemas[name];
    if (!s) throw new Error(`the API server's OpenAPI (${OPENAPI_PATH}) has no ${name}`);
    return s;
  }

  /** The structural schema of the named type. */
  named(name: string, path: string, keepDefaults: ReadonlySet<string> = NONE): Schema {
    if (name === INT_OR_STRING) {
      return { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
    }
    if (name === QUANTITY) {
      return {
        'x-kubernetes-int-or-string': true,
        anyOf: [{ type: 'integer' }, { type: 'string' }],
        pattern: QUANTITY_PATTERN,
      };
    }
    if (name === OBJECT_META) return this.embeddedObjectMeta();
    if (this.stack.includes(name)) {
      throw new Error(
        `${name} is recursive (${[...this.stack, name].join(' → ')} at ${path}): cap its depth in hack/crd/crd.ts`,
      );
    }
    this.stack.push(name);
    try {
      return this.convert(this.definition(name), path, keepDefaults);
    } finally {
      this.stack.pop();
    }
  }

  /** Pod template metadata: labels and annotations typed, every other ObjectMeta field kept as sent. */
  embeddedObjectMeta(): Schema {
    const meta = this.definition(OBJECT_META);
    const props = meta.properties as Record<string, Schema>;
    const map = (field: string): Schema => ({
      description: props[field]?.description,
      type: 'object',
      additionalProperties: { type: 'string' },
    });
    return {
      type: 'object',
      properties: { annotations: map('annotations'), labels: map('labels') },
      'x-kubernetes-preserve-unknown-fields': true,
    };
  }

  /** `keepDefaults`: properties whose zero default stays (keys of the list-map this object is an item of). */
  convert(node: Schema, path: string, keepDefaults: ReadonlySet<string> = NONE): Schema {
    const ref = refOf(node);
    if (ref !== undefined) {
      if (!ref.startsWith(SCHEMA_PREFIX)) throw new Error(`unexpected $ref ${ref} at ${path}`);
      const target = this.named(ref.slice(SCHEMA_PREFIX.length), path, keepDefaults);
      const out: Schema = { ...target };
      if (typeof node.description === 'string') out.description = node.description;
      else if (out.description === undefined) {
        const d = this.definition(ref.slice(SCHEMA_PREFIX.length)).description;
        if (typeof d === 'string') out.description = d;
      }
      if ('default' in node && !isZeroValue(node.default)) out.default = node.default;
      for (const key of Object.keys(node)) {
        if (!['$ref', 'allOf', 'description', 'default'].includes(key))
          throw new Error(`unexpected keyword ${key} beside a $ref at ${path}`);
      }
      return order(out);
    }
    const out: Schema = {};
    for (const [key, value] of Object.entries(node)) {
      if (KEPT.has(key)) out[key] = value;
      else if (DROPPED.has(key)) continue;
      else if (key === 'default') {
        if (!isZeroValue(value)) out.default = value;
      } else if (key === 'properties') {
        const required = new Set((node.required as string[] | undefined) ?? []);
        const props: Record<string, Schema> = {};
        for (const [name, child] of Object.entries(value as Record<string, Schema>).sort(([a], [b]) =>
          a.localeCompare(b),
        )) {
          const converted = this.convert(child, `${path}.${name}`);
          // A list-map key must be required or have a default (apiextensions): keep OpenAPI's, even "".
          if (keepDefaults.has(name) && !required.has(name) && converted.default === undefined) {
            const d = child.default;
            if (d === undefined)
              throw new Error(`list-map key ${path}.${name} has no default and is optional`);
            converted.default = d;
          }
          const e = converted.enum;
          if (!required.has(name) && converted.type === 'string' && Array.isArray(e) && !e.includes('')) {
            converted.enum = ['', ...(e as string[])];
          }
          props[name] = converted;
        }
        out.properties = props;
      } else if (key === 'items') {
        const keys = node['x-kubernetes-list-map-keys'];
        out.items = this.convert(
          value as Schema,
          `${path}[]`,
          new Set(Array.isArray(keys) ? (keys as string[]) : []),
        );
      } else if (key === 'additionalProperties') {
        if (typeof value === 'object' && value !== null) {
          out.additionalProperties = this.convert(value as Schema, `${path}{}`);
        } else if (value === true) {
          out['x-kubernetes-preserve-unknown-fields'] = true;
        } else throw new Error(`additionalProperties: ${String(value)} at ${path}`);
      } else {
        throw new Error(`unhandled OpenAPI keyword ${key} at ${path}: decide in hack/crd/crd.ts`);
      }
    }
    if (out.type === undefined && out['x-kubernetes-int-or-string'] !== true) {
      throw new Error(`no type at ${path} (a structural schema needs one)`);
    }
    if (
      out.type === 'object' &&
      out.properties === undefined &&
      out.additionalProperties === undefined &&
      out['x-kubernetes-preserve-unknown-fields'] !== true
    ) {
      // Would prune whatever the user wrote there.
      throw new Error(`an object without properties at ${path}: decide how to keep its content`);
    }
    return order(out);
  }
}

/** Keywords in a fixed order, so the YAML reads the same way everywhere. */
const ORDER = [
  'description',
  'type',
  'format',
  'x-kubernetes-int-or-string',
  'anyOf',
  'enum',
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'maxProperties',
  'pattern',
  'required',
  'properties',
  'additionalProperties',
  'items',
];
function order(node: Schema): Schema {
  const out: Schema = {};
  for (const k of ORDER) if (k in node && node[k] !== undefined) out[k] = node[k];
  for (const k of Object.keys(node).sort()) if (!(k in out) && node[k] !== undefined) out[k] = node[k];
  return out;
}

const at = (schema: Schema, ...path: string[]): Schema => {
  let node = schema;
  for (const p of path) {
    const next = p === '[]' ? node.items : (node.properties as Record<string, Schema> | undefined)?.[p];
    if (!next || typeof next !== 'object') throw new Error(`no ${path.join('.')} in the converted schema`);
    node = next as Schema;
  }
  return node;
};
const addRules = (node: Schema, rules: CelRule[]) => {
  node['x-kubernetes-validations'] = [
    ...((node['x-kubernetes-validations'] as CelRule[] | undefined) ?? []),
    ...rules,
  ];
};

// ---- bounds for the CEL cost estimate -----------------------------------------------------------
// The API server refuses a CRD whose rules' estimated worst-case cost is over its budget; the
// estimate follows from the largest list, map and string the schema allows. The string bounds are
// apps/v1's own (a label value is at most 63 characters, a label key at most 253 + 1 + 63); the
// selector's sizes have no apps/v1 limit and get generous ones, far above any real selector, that
// keep the estimate well inside the budget (measured against kube-apiserver v1.37: without the
// value length the selector rule is 4x over, without the list bounds more than 100x).
export const BOUNDS = {
  labelKeyLength: 317,
  labelValueLength: 63,
  selectorMatchLabels: 256,
  selectorMatchExpressions: 256,
  expressionValues: 1024,
};

function boundLabelSelector(selector: Schema): void {
  const labels = at(selector, 'matchLabels');
  labels.maxProperties = BOUNDS.selectorMatchLabels;
  (labels.additionalProperties as Schema).maxLength = BOUNDS.labelValueLength;
  const expressions = at(selector, 'matchExpressions');
  expressions.maxItems = BOUNDS.selectorMatchExpressions;
  at(expressions, '[]', 'key').maxLength = BOUNDS.labelKeyLength;
  const values = at(expressions, '[]', 'values');
  values.maxItems = BOUNDS.expressionValues;
  at(values, '[]').maxLength = BOUNDS.labelValueLength;
}

/** The pod template's label values (what the selector rules compare); their number needs no bound. */
function boundLabels(metadata: Schema): void {
  (at(metadata, 'labels').additionalProperties as Schema).maxLength = BOUNDS.labelValueLength;
}

// ---- CEL rules ---------------------------------------------------------------------------------
// Each { rule, message, fieldPath?, reason? } is an x-kubernetes-validations entry. Messages follow
// apps/v1 validation's wording where it has one. Int-or-string values are `dyn` in CEL: type() first.

interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** A percentage from 0% to 100% as apps/v1 accepts it (digits, then %; leading zeros allowed). */
const PERCENT_0_100 = '^0*([0-9]{1,2}|100)%$';
/** partition's percent form exactly as src/contract/rollout.ts parses it. */
const PARTITION_PERCENT = '^(0|[1-9][0-9]?|100)%$';
/** A label key (qualified name with an optional DNS-subdomain prefix), as src/contract/rollout.ts checks it. */
const LABEL_KEY =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';

const intOrPercentRule = (what: string): CelRule => ({
  rule: `type(self) == int ? self >= 0 : self.matches(r'${PERCENT_0_100}')`,
  message: `${what} must be a non-negative integer or a percentage from 0% to 100% (e.g. 1 or "10%")`,
});
const isZero = (v: string) => `(type(${v}) == int ? ${v} == 0 : ${v}.matches(r'^0+%$'))`;

const LABELS = 'self.template.metadata.labels';
const hasLabels = 'has(self.template.metadata) && has(self.template.metadata.labels)';

const RULES = {
  spec: [
    {
      rule:
        `!has(self.selector.matchLabels) || self.selector.matchLabels.all(k, ${hasLabels} && ` +
        `k in ${LABELS} && ${LABELS}[k] == self.selector.matchLabels[k])`,
      message: '`selector` does not match template `labels`',
      fieldPath: '.template.metadata.labels',
    },
    {
      rule:
        `!has(self.selector.matchExpressions) || self.selector.matchExpressions.all(e, ` +
        `e.operator == 'In' ? (${hasLabels} && e.key in ${LABELS} && ${LABELS}[e.key] in e.values) : ` +
        `e.operator == 'NotIn' ? (!(${hasLabels}) || !(e.key in ${LABELS}) || !(${LABELS}[e.key] in e.values)) : ` +
        `e.operator == 'Exists' ? (${hasLabels} && e.key in ${LABELS}) : ` +
        `(!(${hasLabels}) || !(e.key in ${LABELS})))`,
      message: '`selector` does not match template `labels`',
      fieldPath: '.template.metadata.labels',
    },
  ],
  selector: [
    {
      rule:
        '(has(self.matchLabels) && size(self.matchLabels) > 0) || ' +
        '(has(self.matchExpressions) && size(self.matchExpressions) > 0)',
      message: 'empty selector is invalid for daemonset',
    },
    { rule: 'self == oldSelf', message: 'field is immutable' },
  ],
  labelSelectorRequirement: [
    {
      rule:
        "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : " +
        '(!has(self.values) || size(self.values) == 0)',
      message:
        'values must be non-empty for the operators In and NotIn, and empty for Exists and DoesNotExist',
      fieldPath: '.values',
    },
  ],
  podSpec: [
    {
      rule: "!has(self.restartPolicy) || self.restartPolicy in ['', 'Always']",
      message: 'Unsupported value: supported values: "Always"',
      fieldPath: '.restartPolicy',
      reason: 'FieldValueInvalid',
    },
    {
      rule: '!has(self.activeDeadlineSeconds)',
      message: 'activeDeadlineSeconds in DaemonSet is not Supported',
      fieldPath: '.activeDeadlineSeconds',
      reason: 'FieldValueForbidden',
    },
  ],
  rollingUpdate: [
    {
      rule: `!(has(self.maxUnavailable) && ${isZero('self.maxUnavailable')} && (!has(self.maxSurge) || ${isZero('self.maxSurge')}))`,
      message: 'may not be 0 when `maxSurge` is 0',
      fieldPath: '.maxUnavailable',
    },
  ],
  maxUnavailable: [intOrPercentRule('maxUnavailable')],
  maxSurge: [intOrPercentRule('maxSurge')],
  partition: [
    {
      rule: `type(self) == int ? self >= 0 : self.matches(r'${PARTITION_PERCENT}')`,
      message:
        'partition must be a number of nodes (an integer, 0 or more) or a percentage of the desired nodes from 0% to 100% (e.g. 3 or "25%")',
    },
  ],
  nodeLabelKey: [
    {
      rule: `self.matches(r'${LABEL_KEY}')`,
      message: 'nodeLabelKey must be a node label key, e.g. "topology.kubernetes.io/zone"',
    },
  ],
} satisfies Record<string, CelRule[]>;

// ---- the typed rollout block (src/contract/rollout.ts RolloutSpec) ------------------------------

function rolloutSchema(labelSelector: Schema): Schema {
  return {
    description:
      "everynode's rollout control (docs/rollout.md): the rollout.everynode.dev/* annotations of an apps/v1 DaemonSet as typed fields. Acts on the RollingUpdate strategy (OnDelete replaces only what you delete). Nodes update in one order: replacements under way first, then by wave (when waves is set), then by node name.",
    type: 'object',
    properties: {
      // Keep the field names in step with src/contract/rollout.ts RolloutSpec.
      autoPause: {
        description:
          'Stop the rollout by itself when a new-revision pod crash-loops (CrashLoopBackOff, 3 or more restarts), cannot pull its image, is not Ready within minReadySeconds + 5 min, or its node turns NotReady after receiving it. Holds until the template changes again or `kubectl everynode rollout resume`.',
        type: 'boolean',
      },
      nodeSelector: {
        ...labelSelector,
        description:
          'Only nodes matching this label selector are updated (a canary pool); the others keep their old-revision pods. Absent: every node.',
      },
      partition: {
        description:
          'This many eligible nodes keep their old-revision pod; the rest update. A number of nodes (e.g. 3) or a percentage of desiredNumberScheduled from 0% to 100% (e.g. "25%", rounded up): the last nodes of the update order. Lower it to continue. A node that joins still gets a pod of the current template.',
        'x-kubernetes-int-or-string': true,
        anyOf: [{ type: 'integer' }, { type: 'string' }],
        'x-kubernetes-validations': RULES.partition,
      },
      paused: {
        description:
          'No old pod is deleted or replaced and no surge pod created; nodes without a pod still get one.',
        type: 'boolean',
      },
      progressDeadlineSeconds: {
        description:
          'When no updated pod becomes available for this many seconds: condition Progressing=False with reason ProgressDeadlineExceeded and a Warning event (the rollout goes on).',
        type: 'integer',
        format: 'int32',
        minimum: 1,
      },
      updateMode: {
        description:
          'How a pod is replaced. Recreate (default): deleted and created anew, as upstream does. InPlaceIfPossible: when the only template differences are container or init-container images (and cpu/memory resources, through the pod resize subresource, where the QoS class stays the same), the pod is patched instead: same node, UID, IP and volumes, within maxUnavailable; any other difference, a maxSurge rollout or a refused patch falls back to Recreate for that pod.',
        type: 'string',
        enum: ['Recreate', 'InPlaceIfPossible'],
      },
      waves: {
        description:
          'Update one group of nodes (the same value of a node label) at a time: smallest group first, ties by value, nodes without the label last.',
        type: 'object',
        required: ['nodeLabelKey'],
        properties: {
          nodeLabelKey: {
            description: 'The node label key whose values form the waves, e.g. topology.kubernetes.io/zone.',
            type: 'string',
            maxLength: BOUNDS.labelKeyLength,
            'x-kubernetes-validations': RULES.nodeLabelKey,
          },
          soakSeconds: {
            description:
              'The next wave starts only once every pod of the previous one is updated and available and this many seconds have passed since, with no auto-pause (default 0).',
            type: 'integer',
            format: 'int32',
            minimum: 0,
          },
        },
      },
    },
  };
}

// ---- the CRD ---------------------------------------------------------------------------------------

export function buildCrd(doc: OpenApiDocument): Schema {
  const c = new Converter(doc);
  const spec = c.named(`${APPS}.DaemonSetSpec`, 'spec');
  const status = c.named(`${APPS}.DaemonSetStatus`, 'status');
  const daemonSet = c.definition(`${APPS}.DaemonSet`);
  const top = daemonSet.properties as Record<string, Schema>;

  // apps/v1 ValidateDaemonSetSpec: non-negative counts, a non-empty immutable selector that matches
  // the template's labels, restartPolicy Always, no activeDeadlineSeconds, int-or-percent limits.
  at(spec, 'minReadySeconds').minimum = 0;
  at(spec, 'revisionHistoryLimit').minimum = 0;
  addRules(spec, RULES.spec);
  addRules(at(spec, 'selector'), RULES.selector);
  addRules(at(spec, 'template', 'spec'), RULES.podSpec);
  const rollingUpdate = at(spec, 'updateStrategy', 'rollingUpdate');
  addRules(rollingUpdate, RULES.rollingUpdate);
  addRules(at(rollingUpdate, 'maxUnavailable'), RULES.maxUnavailable);
  addRules(at(rollingUpdate, 'maxSurge'), RULES.maxSurge);
  boundLabelSelector(at(spec, 'selector'));
  addRules(at(spec, 'selector', 'matchExpressions', '[]'), RULES.labelSelectorRequirement);
  boundLabels(at(spec, 'template', 'metadata'));

  // The rollout block's nodeSelector is a metav1.LabelSelector like spec.selector (without its
  // DaemonSet-only rules), with the same per-requirement rule.
  const nodeSelector = c.convert(
    { $ref: `${SCHEMA_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector` },
    'rollout.nodeSelector',
  );
  boundLabelSelector(nodeSelector);
  addRules(at(nodeSelector, 'matchExpressions', '[]'), RULES.labelSelectorRequirement);
  (spec.properties as Record<string, Schema>).rollout = order(rolloutSchema(nodeSelector));
  spec.properties = Object.fromEntries(
    Object.entries(spec.properties as Record<string, Schema>).sort(([a], [b]) => a.localeCompare(b)),
  );

  const str = (field: string): Schema => ({ description: top[field]?.description, type: 'string' });
  const schema: Schema = {
    description: `${String(daemonSet.description)} everynode's DaemonSet for CRD mode: spec is apps/v1's DaemonSetSpec plus spec.rollout, status is apps/v1's DaemonSetStatus.`,
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: str('apiVersion'),
      kind: str('kind'),
      metadata: { type: 'object' },
      spec: { ...spec, description: top.spec?.description },
      status: { ...status, description: top.status?.description },
    },
  };

  const column = (name: string, type: string, jsonPath: string, description: string, priority = 0) => ({
    name,
    type,
    jsonPath,
    description,
    ...(priority ? { priority } : {}),
  });
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD_NAME, labels: { 'app.kubernetes.io/part-of': 'everynode' } },
    spec: {
      group: EVERYNODE_DAEMONSET.group,
      names: {
        kind: EVERYNODE_DAEMONSET.kind,
        listKind: `${EVERYNODE_DAEMONSET.kind}List`,
        plural: EVERYNODE_DAEMONSET.plural,
        singular: EVERYNODE_DAEMONSET.kind.toLowerCase(),
        shortNames: [EVERYNODE_DAEMONSET_SHORT_NAME],
        categories: ['all', 'everynode'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: EVERYNODE_DAEMONSET.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          // As `kubectl get ds` prints them (and -o wide).
          additionalPrinterColumns: [
            column(
              'Desired',
              'integer',
              '.status.desiredNumberScheduled',
              'Nodes that should run the daemon pod.',
            ),
            column(
              'Current',
              'integer',
              '.status.currentNumberScheduled',
              'Nodes running at least one daemon pod that should.',
            ),
            column('Ready', 'integer', '.status.numberReady', 'Nodes with a ready daemon pod.'),
            column(
              'Up-to-date',
              'integer',
              '.status.updatedNumberScheduled',
              'Nodes running the updated daemon pod.',
            ),
            column('Available', 'integer', '.status.numberAvailable', 'Nodes with an available daemon pod.'),
            column(
              'Node Selector',
              'string',
              '.spec.template.spec.nodeSelector',
              "The pod template's nodeSelector.",
            ),
            column('Age', 'date', '.metadata.creationTimestamp', 'Time since creation.'),
            column('Containers', 'string', '.spec.template.spec.containers[*].name', 'Container names.', 1),
            column('Images', 'string', '.spec.template.spec.containers[*].image', 'Container images.', 1),
            column('Selector', 'string', '.spec.selector', 'The label selector of the daemon pods.', 1),
          ],
          schema: { openAPIV3Schema: order(schema) },
        },
      ],
    },
  };
}

export function header(serverVersion: string): string {
  return [
    `# GENERATED by hack/crd/generate.ts from kube-apiserver ${serverVersion}'s OpenAPI`,
    `# (GET ${OPENAPI_PATH}: io.k8s.api.apps.v1.DaemonSetSpec and DaemonSetStatus). Do not edit by hand:`,
    '# change hack/crd/crd.ts and run `make crd`. Helm installs it on `helm install` only; after an',
    '# upgrade of the chart: kubectl apply --server-side -f charts/everynode/crds/',
    '',
  ].join('\n');
}

/** The CRD file's text for an OpenAPI document: header, YAML, formatted as the repository's prettier does. */
export async function renderCrdYaml(doc: OpenApiDocument, serverVersion: string): Promise<string> {
  const text =
    header(serverVersion) + stringify(buildCrd(doc), { lineWidth: 0, aliasDuplicateObjects: false });
  const options = (await resolveConfig(CRD_FILE)) ?? {};
  return prettierFormat(text, { ...options, filepath: CRD_FILE });
}

/** Reads the OpenAPI and version of the API server behind `kubeconfig` and renders the CRD. */
export async function generateCrdYaml(kubeconfig: string): Promise<string> {
  const [{ stdout: openapi }, { stdout: version }] = await Promise.all([
    kubectl(['get', '--raw', OPENAPI_PATH], { kubeconfig }),
    kubectl(['get', '--raw', '/version'], { kubeconfig }),
  ]);
  const { gitVersion } = JSON.parse(version) as { gitVersion: string };
  return renderCrdYaml(JSON.parse(openapi) as OpenApiDocument, gitVersion);
}
