/**
 * The plan's shared model, imported by the tools and the policy pack alike (it imports
 * nothing of either): the offline graph that `npm run plan -- --json` prints (contract in
 * docs/plan-json.md), how values that must not be revealed are shown, and small facts about
 * plain values. Imports run one way: tools/ and policy/ read this; policy/, components/ and
 * config/ never import tools/ (tests/imports.test.ts).
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface PlanOptions {
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
    readonly ignoreChanges: string[];
    readonly deleteBeforeReplace: boolean;
}

export interface PlanResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly parent: string | null;
    readonly custom: boolean;
    /** the explicit provider a custom resource uses (URN), null for the default provider */
    readonly provider: string | null;
    readonly inputs: { [key: string]: JsonValue };
    /** every resource this one waits on: dependsOn and the resources behind its input Outputs */
    readonly dependencies: string[];
    readonly options: PlanOptions;
}

export interface PolicyFinding {
    readonly policy: string;
    readonly level: "mandatory" | "advisory";
    readonly urn: string | null;
    readonly message: string;
}

export interface PlanGraph {
    readonly stack: string;
    readonly project: string;
    readonly resources: PlanResource[];
    readonly outputs: { [key: string]: JsonValue };
    policy: PolicyFinding[];
}

/** The plan's summary (text and JSON): counts, policy verdicts, and the rebuild estimate. */
export interface PlanSummary {
    readonly resources: number;
    /** resources a provider creates (not components, not the stack) */
    readonly providerResources: number;
    readonly protected: number;
    readonly mandatoryViolations: number;
    readonly advisories: number;
    /** the most provider resources that could be created at once (one level of the DAG) */
    readonly widestLevel: number;
    readonly criticalPath: {
        /** the chain that must be created one after another, first to last */
        readonly urns: string[];
        /** its estimated duration: a rebuild with Pulumi's parallelism */
        readonly estimatedSeconds: number;
    };
    /** every provider resource's estimated create time added up: a rebuild one at a time */
    readonly serialSeconds: number;
    /** types the create-time table (tools/lib/createTimes.ts) has no row for */
    readonly unknownCreateTimes: string[];
}

/** What `npm run plan -- --json` prints: the graph, its policy verdicts and its summary. */
export interface PlanDocument extends PlanGraph {
    readonly summary: PlanSummary;
}

// Values in the plan and in policy messages.

/** How a secret is shown in the plan, its outputs and every message. */
export const SECRET_MASK = "[secret]";
/** How a value not known until deployment is shown. */
export const UNKNOWN_MASK = "[unknown]";

export function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A plan value in a message: a scalar as it is, anything else as JSON (never "[object Object]"). */
export function text(value: unknown): string {
    if (value === null || typeof value !== "object") return String(value);
    return JSON.stringify(value);
}
