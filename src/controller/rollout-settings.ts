// The rollout settings a sync acts on: the DaemonSet's rollout annotations
// when all are valid; otherwise its last valid settings (the controller
// remembers them per DaemonSet), or, with none known (e.g. right after a
// controller restart), a held rollout. Never a silent default: each invalid
// annotation gets a Warning naming it and the accepted forms.
import type { V1DaemonSet } from '@kubernetes/client-node';
import {
  DEFAULT_ROLLOUT_SETTINGS,
  parseRolloutSettings,
  rolloutSettingsFromSpec,
  type RolloutSettings,
  type RolloutSpec,
} from '../contract/rollout.ts';
import type { PlannedEvent } from './types.ts';

export interface ResolvedRollout {
  settings: RolloutSettings;
  /** All annotations valid: `settings` are theirs (and worth remembering). */
  valid: boolean;
  /** Set when the rollout is held because of invalid annotations and no last valid settings. */
  heldBecause: string | undefined;
  events: PlannedEvent[];
}

/**
 * `typed`: the DaemonSet is everynode.dev's own kind, whose settings are the typed
 * spec.rollout block (validated by the CRD's schema) instead of the annotations.
 */
export function resolveRolloutSettings(
  ds: V1DaemonSet,
  lastValid: RolloutSettings | undefined,
  typed = false,
): ResolvedRollout {
  const { settings, problems } = typed
    ? rolloutSettingsFromSpec((ds.spec as { rollout?: RolloutSpec } | undefined)?.rollout)
    : parseRolloutSettings(ds.metadata?.annotations);
  if (problems.length === 0) {
    return {
      settings: { ...DEFAULT_ROLLOUT_SETTINGS, ...settings },
      valid: true,
      heldBecause: undefined,
      events: [],
    };
  }
  const then = lastValid
    ? 'keeping the last valid rollout settings'
    : 'the rollout is held until it is fixed';
  const events: PlannedEvent[] = problems.map((p) => ({
    type: 'Warning',
    reason: 'InvalidRolloutSetting',
    message: `${typed ? '' : 'annotation '}${p.annotation}: "${p.value}" ${p.message}; ${then}`,
  }));
  if (lastValid) return { settings: lastValid, valid: false, heldBecause: undefined, events };
  const names = problems.map((p) => p.annotation).join(', ');
  return {
    settings: DEFAULT_ROLLOUT_SETTINGS,
    valid: false,
    heldBecause: `held: invalid ${typed ? '' : 'annotation '}${names} and no earlier valid settings`,
    events,
  };
}
