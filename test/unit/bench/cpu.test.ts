// The controller benchmark's CPU accounting (bench/controller/measure.ts): /proc/stat parsing,
// the per-phase shares, and the table docs/benchmarks.md quotes. Plain text and objects only.
import { describe, expect, it } from 'vitest';
import {
  cpuTable,
  parseMachineCpu,
  phaseCpu,
  type CpuSnapshot,
  type RunResult,
  type UpdatePhaseResult,
} from '../../../bench/controller/measure.ts';

// A two-CPU machine's /proc/stat (trimmed): user nice system idle iowait irq softirq steal guest guest_nice.
const PROC_STAT = `cpu  1000 20 300 5000 80 10 40 50 7 0
cpu0 500 10 150 2500 40 5 20 25 3 0
cpu1 500 10 150 2500 40 5 20 25 4 0
intr 123456
ctxt 987654
`;

describe('parseMachineCpu', () => {
  it('counts user, nice, system, irq, softirq and steal as busy; idle and iowait only in the total', () => {
    // busy 1000+20+300+10+40+50 = 1420 ticks, total 1420+5000+80 = 6500 ticks (guest is inside user).
    expect(parseMachineCpu(PROC_STAT)).toEqual({ busySeconds: 14.2, totalSeconds: 65 });
  });

  it('reads the aggregate line, not a per-CPU one', () => {
    const perCpuFirst = PROC_STAT.split('\n').slice(1).join('\n') + '\n' + PROC_STAT.split('\n')[0];
    expect(parseMachineCpu(perCpuFirst)).toEqual({ busySeconds: 14.2, totalSeconds: 65 });
  });

  it('is undefined for text without the aggregate line', () => {
    expect(parseMachineCpu('cpu0 1 2 3 4\nintr 5\n')).toBeUndefined();
    expect(parseMachineCpu('')).toBeUndefined();
  });
});

const snapshot = (
  atMs: number,
  busy: number,
  total: number,
  processes: CpuSnapshot['processes'],
): CpuSnapshot => ({
  atMs,
  machine: { busySeconds: busy, totalSeconds: total },
  processes,
});

describe('phaseCpu', () => {
  it('gives the machine busy share and each process in percent of one CPU over the wall time', () => {
    // 10 s on two CPUs: 20 CPU-seconds in all, 19 busy.
    const before = snapshot(1_000, 100, 200, { 'kube-apiserver': 50, kwok: 10, 'everynode controller': 5 });
    const after = snapshot(11_000, 119, 220, { 'kube-apiserver': 60, kwok: 13, 'everynode controller': 7.5 });
    expect(phaseCpu(before, after)).toEqual({
      seconds: 10,
      machineBusyPercent: 95,
      processPercentOfOneCpu: { 'kube-apiserver': 100, kwok: 30, 'everynode controller': 25 },
    });
  });

  it('leaves out a process gone by the end or started after the beginning, and the machine when unknown', () => {
    const before: CpuSnapshot = {
      atMs: 0,
      machine: undefined,
      processes: { etcd: 1, kwok: undefined, gone: 4 },
    };
    const after: CpuSnapshot = {
      atMs: 2_000,
      machine: undefined,
      processes: { etcd: 2, kwok: 3, gone: undefined },
    };
    expect(phaseCpu(before, after)).toEqual({ seconds: 2, processPercentOfOneCpu: { etcd: 50 } });
  });
});

describe('cpuTable', () => {
  const phase = (mode: UpdatePhaseResult['mode'], apiserver: number): UpdatePhaseResult => ({
    mode,
    fromImage: 'a',
    image: 'b',
    mark: 'rolled',
    seconds: 20,
    cpu: {
      seconds: 20,
      machineBusyPercent: 99.5,
      processPercentOfOneCpu: { 'kube-apiserver': apiserver, extra: 1.4 },
    },
  });
  const run = {
    implementation: 'everynode',
    nodes: 1000,
    create: {
      seconds: 19,
      cpu: {
        seconds: 19.2,
        machineBusyPercent: 80,
        processPercentOfOneCpu: { kwok: 30.4, 'kube-apiserver': 90 },
      },
    },
    rollout: phase('Recreate', 95),
    updates: [phase('Recreate', 95), phase('InPlaceIfPossible', 101)],
  } as unknown as RunResult;

  it('has a row per phase with the known components first, in their order, and unknown ones after', () => {
    expect(cpuTable([run]).split('\n')).toEqual([
      '| nodes | controller | phase | seconds | machine busy (%) | kube-apiserver (%) | kwok (%) | extra (%) |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      '| 1000 | everynode | create | 19.2 | 80 | 90 | 30 | - |',
      '| 1000 | everynode | Recreate | 20 | 99.5 | 95 | - | 1 |',
      '| 1000 | everynode | InPlaceIfPossible | 20 | 99.5 | 101 | - | 1 |',
    ]);
  });

  it('skips phases measured before the CPU accounting existed', () => {
    const old = {
      ...run,
      create: { seconds: 19 },
      updates: [{ ...phase('Recreate', 1), cpu: undefined }],
    } as RunResult;
    expect(cpuTable([old]).split('\n')).toHaveLength(2);
  });
});
