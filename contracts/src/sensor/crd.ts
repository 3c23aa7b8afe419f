import { GROUP, KIND, PLURAL, SensorSpec, SensorStatus, VERSION } from './schema.js';
import { toStructural } from './structural.js';

/** The Sensor CustomResourceDefinition, derived from the schema in schema.ts. */
export function sensorCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'hark' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: 'sensor',
        shortNames: ['hs'],
        categories: ['hark'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Nodes-Ready', type: 'integer', jsonPath: '.status.readyNodes' },
            { name: 'Nodes-Desired', type: 'integer', jsonPath: '.status.desiredNodes' },
            { name: 'Version', type: 'string', jsonPath: '.status.agentVersion' },
            { name: 'Site', type: 'string', jsonPath: '.spec.site', priority: 1 },
            {
              name: 'Reason',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
              priority: 1,
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                "A Sensor runs hark's passive capture agent on the edge nodes it selects, and reports what they discover to the aggregator.",
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string', description: 'APIVersion of this object: hark.dev/v1alpha1.' },
                kind: { type: 'string', description: 'Kind of this object: Sensor.' },
                metadata: { type: 'object' },
                spec: toStructural(SensorSpec),
                // Defaulting status gives a brand-new Sensor observedGeneration -1,
                // so kstatus (Flux) reads it as InProgress, not Current.
                status: { ...toStructural(SensorStatus), default: { observedGeneration: -1 } },
              },
            },
          },
        },
      ],
    },
  };
}
