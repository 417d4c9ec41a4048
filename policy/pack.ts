/**
 * The pack's policies as CrossGuard objects (index.ts hands them to PolicyPack). Every rule
 * runs as a stack validation over the same view the offline check uses (`npm run policy`).
 * One difference, by necessity: CrossGuard hands validations secret values already
 * decrypted, so "secrets-are-secret" cannot be checked here and runs as a remediation
 * instead: plain secret-bearing inputs are turned into secrets before they reach the
 * state. The offline check, which does see secretness, reports them as mandatory.
 */
import { ResourceValidationPolicy, Secret, StackValidationPolicy } from "@pulumi/policy";
import type { PolicyConfigJSONSchemaType } from "@pulumi/policy/schema";
import { environmentOf } from "./offline";
import { RULES } from "./rules";
import type { JsonSchema, PolicyResource } from "./rules/model";
import { secretsAreSecret, wrapPlainSecrets } from "./rules/secrets";
import { packDefaults } from "./settings";

const defaults = packDefaults();

/** The rule's schema with the pack's computed defaults (isolation identities) filled in. */
function withDefaults(schema: Readonly<Record<string, JsonSchema>>, values: Record<string, unknown> = {}): Record<string, JsonSchema> {
    return Object.fromEntries(Object.entries(schema).map(([key, s]) => [key, key in values ? { ...s, default: asJson(values[key]) } : { ...s }]));
}

/** Plain data as the JSON value type the schema's `default` takes. */
function asJson(value: unknown): PolicyConfigJSONSchemaType {
    return JSON.parse(JSON.stringify(value)) as PolicyConfigJSONSchemaType;
}

export const secretsRemediation: ResourceValidationPolicy = {
    name: secretsAreSecret.name,
    description: `${secretsAreSecret.description} (remediates: marks plain values as secrets)`,
    enforcementLevel: "remediate",
    remediateResource: (args) => {
        const { props, wrapped } = wrapPlainSecrets(args.props, (v) => v instanceof Secret, (v) => new Secret(v));
        return wrapped > 0 ? props : undefined;
    },
};


const validations: StackValidationPolicy[] = RULES.filter((rule) => rule.name !== secretsAreSecret.name).map((rule) => ({
    name: rule.name,
    description: rule.description,
    enforcementLevel: rule.level,
    configSchema: { properties: withDefaults(rule.configSchema, defaults[rule.name]) },
    validateStack: (args, reportViolation) => {
        const resources: PolicyResource[] = args.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, props: r.props, protect: r.opts.protect }));
        const given = { ...(defaults[rule.name] ?? {}), ...args.getConfig<Record<string, unknown>>() };
        for (const finding of rule.run({ resources, environment: environmentOf(resources) }, given)) {
            reportViolation(finding.message, finding.urn ?? undefined);
        }
    },
}));

export const POLICIES: (ResourceValidationPolicy | StackValidationPolicy)[] = [secretsRemediation, ...validations];
