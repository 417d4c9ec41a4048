/**
 * The offline graph: what `npm run plan -- --json` prints (the contract the README describes).
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
