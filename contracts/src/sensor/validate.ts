import '../formats.js';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { SensorSpec, type SensorSpec as Spec } from './schema.js';

const compiled = TypeCompiler.Compile(SensorSpec);

export interface ValidationIssue {
  path: string;
  message: string;
}

/** Validates a Sensor spec the way the API server would, and fills in the CRD's defaults. */
export function parseSensorSpec(
  input: unknown,
): { spec: Spec; issues: [] } | { spec: undefined; issues: ValidationIssue[] } {
  const withDefaults = Value.Default(SensorSpec, structuredClone(input));
  if (compiled.Check(withDefaults)) return { spec: withDefaults, issues: [] };
  const issues = [...compiled.Errors(withDefaults)].map((e) => ({
    path: `spec${e.path.replaceAll('/', '.')}`,
    message: e.message,
  }));
  return { spec: undefined, issues };
}

/** Fills in the defaults the API server applies, for a spec that has already passed admission. */
export function withSpecDefaults(
  spec: Spec,
): Required<Pick<Spec, 'capture' | 'agent' | 'rollout' | 'certificate'>> & Spec {
  const filled = Value.Default(SensorSpec, structuredClone(spec)) as Spec;
  return {
    ...filled,
    capture: Value.Default(SensorSpec.properties.capture, filled.capture ?? {}) as NonNullable<
      Spec['capture']
    >,
    agent: Value.Default(SensorSpec.properties.agent, filled.agent ?? {}) as NonNullable<Spec['agent']>,
    rollout: Value.Default(SensorSpec.properties.rollout, filled.rollout ?? {}) as NonNullable<
      Spec['rollout']
    >,
    certificate: Value.Default(SensorSpec.properties.certificate, filled.certificate ?? {}) as NonNullable<
      Spec['certificate']
    >,
  };
}
