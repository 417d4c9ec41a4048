/**
 * The offline graph: what `npm run plan -- --json` prints (contract in docs/plan-json.md).
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
