// `kubectl everynode rollout history|undo` for an everynode.dev DaemonSet (CRD
// mode), the decisions, as kubectl's DaemonSetHistoryViewer and
// DaemonSetRollbacker (k8s.io/kubectl pkg/polymorphichelpers history.go,
// rollback.go) make them for apps/v1: the revisions are the ControllerRevisions
// the object controls; the table is `REVISION  CHANGE-CAUSE`; `--revision N`
// describes that revision's pod template; undo defaults to the second-highest
// revision, is skipped when the template already matches (the revision's data
// equals getPatch of the object), else replaces spec.template with the
// revision's template (a JSON patch: custom resources take no strategic merge,
// so the data's `$patch: replace` is dropped and the replace is the patch's
// own). Pure: plain objects in, text and patches out.
import type { V1ControllerRevision, V1PodTemplateSpec } from '@kubernetes/client-node';
import { controllerRefOf } from '../contract/daemon-pod.ts';
import { getPatch, matchesRevision } from '../controller/history.ts';
import { describePodTemplate } from './describe-template.ts';
import { displayName, refOfObject } from './resource.ts';
import type { AnyDaemonSet } from './rollout-settings.ts';

/** kubectl's ChangeCauseAnnotation. */
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** The revisions the object controls (controller owner reference with its uid), by revision number. */
export function controlledRevisions(
  ds: AnyDaemonSet,
  revisions: readonly V1ControllerRevision[],
): V1ControllerRevision[] {
  const uid = ds.metadata?.uid;
  return revisions
    .filter((r) => uid !== undefined && controllerRefOf(r)?.uid === uid)
    .sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
}

/** Go's tabwriter as kubectl's tabbedString sets it up (padding 2, no minimum width). */
function tabbed(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.slice(0, -1).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((row) => row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i]! + 2) : c)).join('') + '\n')
    .join('');
}

/** The template a revision restores: its data's spec.template without the `$patch` directive. */
export function revisionTemplate(rev: V1ControllerRevision): V1PodTemplateSpec | undefined {
  const data = rev.data as { spec?: { template?: Record<string, unknown> } } | undefined;
  const template = data?.spec?.template;
  if (template === undefined || template === null || typeof template !== 'object') return undefined;
  const { $patch: _directive, ...rest } = template;
  const restored: V1PodTemplateSpec = rest;
  return restored;
}

/**
 * What `kubectl rollout history` prints: `daemonset.everynode.dev/NAME ` and the table, or with
 * `revision` > 0 `… with revision #N` and the pod template. An error message for an unknown revision.
 */
export function historyText(
  ds: AnyDaemonSet,
  revisions: readonly V1ControllerRevision[],
  revision = 0,
): { text: string } | { error: string } {
  const owned = controlledRevisions(ds, revisions);
  const byNumber = new Map(owned.map((r) => [r.revision ?? 0, r]));
  const head = `${displayName(refOfObject(ds))} ${revision > 0 ? `with revision #${revision}` : ''}\n`;
  if (byNumber.size === 0) return { text: `${head}No rollout history found.\n` };
  if (revision > 0) {
    const rev = byNumber.get(revision);
    if (!rev) return { error: 'unable to find the specified revision' };
    const template = revisionTemplate(rev);
    if (!template) return { error: `unable to parse history ${rev.metadata?.name ?? ''}` };
    return { text: `${head}${describePodTemplate(template)}\n` };
  }
  const rows = [...byNumber.keys()]
    .sort((a, b) => a - b)
    .map((n) => {
      const cause = byNumber.get(n)!.metadata?.annotations?.[CHANGE_CAUSE_ANNOTATION];
      return [String(n), cause ? cause : '<none>'];
    });
  return { text: `${head}${tabbed([['REVISION', 'CHANGE-CAUSE'], ...rows])}\n` };
}

export type UndoPlan =
  | { error: string }
  | {
      /** The JSON patch for the object, absent when nothing is to change. */
      patch?: { op: 'replace'; path: '/spec/template'; value: V1PodTemplateSpec }[];
      /** The line for stdout. */
      line: string;
      /** Said on stderr as is (kubectl's last-applied warning). */
      warnings: string[];
    };

/**
 * kubectl's DaemonSetRollbacker for the custom resource. `toRevision` 0 is the previous revision
 * (the second-highest number). `dryRun` 'client' only says which template it would restore.
 */
export function planUndo(
  ds: AnyDaemonSet,
  revisions: readonly V1ControllerRevision[],
  toRevision: number,
  dryRun: 'none' | 'client' | 'server' = 'none',
): UndoPlan {
  const display = displayName(refOfObject(ds));
  const owned = controlledRevisions(ds, revisions);
  if (toRevision === 0 && owned.length <= 1) return { error: 'no last revision to roll back to' };
  const target = toRevision === 0 ? owned[owned.length - 2] : owned.find((r) => r.revision === toRevision);
  if (!target) return { error: `unable to find specified revision ${toRevision} in history` };
  const number = target.revision ?? 0;
  const template = revisionTemplate(target);
  if (!template) return { error: `unable to parse history ${target.metadata?.name ?? ''}` };
  const warnings =
    ds.metadata?.annotations?.[LAST_APPLIED] !== undefined
      ? [
          `Warning: resource daemonsets.everynode.dev/${ds.metadata?.name ?? ''} was previously managed with 'kubectl apply'. ` +
            `Rolling back will not update the ${LAST_APPLIED} annotation, which may cause unexpected behavior on future 'kubectl apply' operations. ` +
            `Consider using 'kubectl apply' with your previous configuration file instead.`,
        ]
      : [];
  if (dryRun === 'client') {
    return { line: `${display} will roll back to ${describePodTemplate(template)}`, warnings };
  }
  if (matchesRevision(getPatch(ds), target)) {
    return {
      line: `${display} skipped rollback (current template already matches revision ${number})`,
      warnings,
    };
  }
  return {
    patch: [{ op: 'replace', path: '/spec/template', value: template }],
    line: `${display} rolled back${dryRun === 'server' ? ' (server dry run)' : ''}`,
    warnings,
  };
}
