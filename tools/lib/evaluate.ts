/**
 * Evaluates the real program offline under Pulumi's mock runtime and records the resource
 * graph it builds: every resource with its inputs (secrets masked), options and the
 * resources it waits on. `npm run plan`, `npm run policy`, the benchmark and the tests all
 * go through here, so what they check is what `pulumi up` would register.
 *
 * This file runs an evaluation; its parts live in offline/:
 * - offline/mocks.ts: what the mock runtime answers for each resource and invoke;
 * - offline/capture.ts: the program's registrations resolved into the plan's JSON;
 * - offline/urns.ts: the engine's URNs and the duplicate check;
 * - offline/sdkInternals.ts: the one file that reads @pulumi/pulumi internals (re-check it
 *   on every @pulumi/pulumi upgrade).
 */
import { performance } from "perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { validateRawConfig, NAMESPACE, ValidatedConfig } from "../../config/load";
import * as path from "path";
import type { PlanGraph } from "../../graph";
import { inventoryFromConfig, PciInventory } from "./inventory";
import { captureProgram, isObject, planResources, resolveValue } from "./offline/capture";
import { offlineMocks, type OnMockResource } from "./offline/mocks";
import { duplicateUrns, DuplicateUrnError, engineUrns } from "./offline/urns";
import type { StackConfigFile } from "./stackFile";

export { MOCK_GENERATED_SECRET } from "./offline/mocks";
export { duplicateUrns, DuplicateUrnError } from "./offline/urns";

export interface EvaluateOptions {
    readonly stack: string;
    readonly file: StackConfigFile;
    /** what `hardware.getPci` answers; default: the configured GPU where the config puts it */
    readonly inventory?: PciInventory;
    /** told once the config is valid and the program is about to run */
    readonly progress?: (message: string) => void;
    /**
     * Whether the host stack's objects exist when an environment stack asks for them
     * (its preflight): "present" (default, as after `pulumi up --stack host`) or "missing".
     */
    readonly hostObjects?: "present" | "missing";
    /**
     * sees each resource's inputs as the engine would receive them, secrets unwrapped (for
     * tests that check what a secret input holds, e.g. a remote command's pinned host key)
     */
    readonly onMockResource?: OnMockResource;
    /**
     * also return the stack outputs with their secrets in plain text, as
     * `pulumi stack output --json --show-secrets` would (for tests; never in the plan)
     */
    readonly revealSecretOutputs?: boolean;
}

export interface Evaluation {
    readonly graph: PlanGraph;
    /** the validated config: an environment's, or the host stack's with both environments */
    readonly validated: ValidatedConfig;
    /** the outputs with secrets shown, only with revealSecretOutputs */
    readonly revealedOutputs?: Record<string, unknown>;
}

/** The stack file's config, validated as the program will (throws ConfigError). */
function validateStackFile(stack: string, file: StackConfigFile): ValidatedConfig {
    const raw = Object.fromEntries(
        Object.entries(file.config)
            .filter(([k]) => k.startsWith(`${NAMESPACE}:`))
            .map(([k, v]) => [k.slice(NAMESPACE.length + 1), v]),
    );
    const secretKeys = new Set(file.secretKeys.filter((k) => k.startsWith(`${NAMESPACE}:`)).map((k) => k.slice(NAMESPACE.length + 1)));
    const otherKeys = Object.keys(file.config).filter((k) => !k.startsWith(`${NAMESPACE}:`));
    return validateRawConfig(raw, secretKeys, { file: path.basename(file.file), stack, otherKeys });
}

/** Validates the stack's config (throws ConfigError) and evaluates the program against mocks. */
export async function evaluateStack(options: EvaluateOptions): Promise<Evaluation> {
    const { stack, file } = options;
    const validated = validateStackFile(stack, file);
    options.progress?.(`evaluating stack ${stack} from ${file.file} (offline, Pulumi mocks)...`);
    const inventory = options.inventory ?? inventoryFromConfig(validated.kind === "host" ? validated.environments.map((e) => e.config) : []);
    const hostObjectsPresent = (options.hostObjects ?? "present") === "present";

    // The program reads which keys are secret from the environment, as under the CLI.
    process.env.PULUMI_CONFIG = JSON.stringify(file.config);
    process.env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify(file.secretKeys);
    pulumi.runtime.setAllConfig(file.config, file.secretKeys);

    const providers = new Map<string, string>();
    const started = performance.now();
    const evaluation = await underOfflineRuntime(stack, offlineMocks(inventory, providers, options.onMockResource, hostObjectsPresent), () => record(stack, validated, providers, options.revealSecretOutputs === true));
    options.progress?.(`evaluated stack ${stack}: ${evaluation.graph.resources.length} resources in ${(performance.now() - started).toFixed(0)} ms`);
    return evaluation;
}

/**
 * Runs `work` as a preview of `stack` under `mocks`, the way every offline evaluation runs
 * (the plan, and the benchmark's floors, so they pay the same runtime costs).
 */
export async function underOfflineRuntime<T>(stack: string, mocks: pulumi.runtime.Mocks, work: () => Promise<T>): Promise<T> {
    await pulumi.runtime.setMocks(mocks, "ai-dualstack", stack, true);
    return withoutStackTraces(() => failFastOnProgramErrors(work));
}

/**
 * The SDK captures a stack trace for every promise and resource (`new Error().stack`, to
 * give the engine source positions). Offline nothing reads them, and capturing them was
 * most of the plan's time (under ts-node or jest each one was also source-mapped). While
 * the program runs no frames are captured (`Error.stackTraceLimit = 0`) and an error's
 * stack is its message; errors still carry their messages, which is all the tools print.
 */
async function withoutStackTraces<T>(work: () => Promise<T>): Promise<T> {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- kept only to be put back, never called
    const savedPrepare = Error.prepareStackTrace;
    const savedLimit = Error.stackTraceLimit;
    Error.prepareStackTrace = (err) => String(err);
    Error.stackTraceLimit = 0;
    try {
        return await work();
    } finally {
        Error.prepareStackTrace = savedPrepare;
        Error.stackTraceLimit = savedLimit;
    }
}

/** Runs the program under the mocks already set and reads back the graph it built. */
async function record(stack: string, validated: ValidatedConfig, providers: ReadonlyMap<string, string>, reveal: boolean): Promise<Evaluation> {
    const { registrations, outputs } = await captureProgram();
    const urnOf = engineUrns(registrations, stack);
    const duplicates = duplicateUrns([...urnOf.values()]);
    if (duplicates.length > 0) {
        throw new DuplicateUrnError(duplicates);
    }
    const resources = await planResources(registrations, urnOf, providers);

    const resolvedOutputs = await resolveValue(outputs, new Set());
    const revealed = reveal ? await resolveValue(outputs, new Set(), true) : undefined;
    return {
        validated,
        ...(revealed !== undefined && isObject(revealed) ? { revealedOutputs: revealed } : {}),
        graph: {
            stack,
            project: "ai-dualstack",
            resources,
            outputs: isObject(resolvedOutputs) ? resolvedOutputs : {},
            policy: [],
        },
    };
}

/**
 * Under the CLI, an error thrown inside an apply (the GPU preflight, say) fails the run.
 * Under mocks it only surfaces as an unhandled rejection and the resources waiting on it
 * never resolve, so the evaluation listens for it and fails with that error instead.
 */
async function failFastOnProgramErrors<T>(work: () => Promise<T>): Promise<T> {
    let onError: ((reason: unknown) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
        onError = (reason: unknown) => reject(reason instanceof Error ? reason : new Error(String(reason)));
    });
    const handler = (reason: unknown) => onError?.(reason);
    process.on("unhandledRejection", handler);
    try {
        return await Promise.race([work(), failed]);
    } finally {
        process.off("unhandledRejection", handler);
    }
}
