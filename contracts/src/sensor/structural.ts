// Turns a TypeBox (JSON Schema) definition into a Kubernetes structural
// schema: the subset of OpenAPI v3 a CustomResourceDefinition accepts.
// JSON Schema and structural schemas differ in a few places that matter here:
// maps are additionalProperties (not patternProperties), int-or-string is an
// extension (not anyOf), and enums of literals collapse to `enum`.

type JsonSchema = Record<string, unknown>;

const DROPPED = new Set(['$id', '$schema', 'patternProperties', 'anyOf', 'const']);

export function toStructural(schema: unknown): JsonSchema {
  // JSON round-trip drops TypeBox's symbol-keyed metadata.
  return convert(JSON.parse(JSON.stringify(schema)) as JsonSchema);
}

function convert(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  const anyOf = node.anyOf as JsonSchema[] | undefined;
  if (anyOf) Object.assign(out, convertUnion(anyOf));
  if ('const' in node) {
    out.type = typeof node.const === 'number' ? 'integer' : typeof node.const;
    out.enum = [node.const];
  }
  const patternProperties = node.patternProperties as Record<string, JsonSchema> | undefined;
  if (patternProperties) {
    const [valueSchema] = Object.values(patternProperties);
    out.type = 'object';
    out.additionalProperties = valueSchema ? convert(valueSchema) : true;
  }
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue;
    if (key === 'properties' && Object.keys(value as object).length === 0) {
      // An opaque Kubernetes object: x-kubernetes-preserve-unknown-fields says it all.
    } else if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, convert(v)]),
      );
    } else if (key === 'items') {
      out.items = convert(value as JsonSchema);
    } else if (key === 'additionalProperties' && typeof value === 'object') {
      out.additionalProperties = convert(value as JsonSchema);
    } else if (key === 'additionalProperties' && typeof value === 'boolean') {
      // Structural schemas prune unknown fields (false is the default) and say
      // "keep them" with x-kubernetes-preserve-unknown-fields, not with true.
    } else {
      out[key] = value;
    }
  }
  return out;
}

function convertUnion(options: JsonSchema[]): JsonSchema {
  const types = new Set(options.map((o) => ('const' in o ? typeof o.const : o.type)));
  if (types.size === 2 && (types.has('integer') || types.has('number')) && types.has('string')) {
    return { 'x-kubernetes-int-or-string': true };
  }
  if (options.every((o) => 'const' in o)) {
    const first = options[0]?.const;
    return { type: typeof first === 'number' ? 'integer' : 'string', enum: options.map((o) => o.const) };
  }
  throw new Error(`a union of ${[...types].join(', ')} has no structural form; restructure the schema`);
}
