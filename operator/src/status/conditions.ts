// metav1.Condition bookkeeping: lastTransitionTime moves only when a
// condition's status changes, so a steady Sensor's status never changes and
// the operator never writes it.
import type { Condition } from '@hark/contracts/sensor';

export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

export function setCondition(
  previous: Condition[] | undefined,
  input: ConditionInput,
  generation: number,
  now: Date,
): Condition[] {
  const list = [...(previous ?? [])];
  const index = list.findIndex((c) => c.type === input.type);
  const old = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    ...input,
    observedGeneration: generation,
    lastTransitionTime:
      old && old.status === input.status
        ? old.lastTransitionTime
        : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

export function findCondition(list: Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}
