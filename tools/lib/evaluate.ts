/**
 * Evaluates the real program offline under Pulumi's mock runtime and records the resource
 * graph it builds: every resource with its inputs (secrets masked), options and the
 * resources it waits on. `npm run plan`, `npm run policy`, the benchmark and the tests all
 * go through here, so what they check is what `pulumi up` would register.
 *
 * How it sees the graph (checked with @pulumi/pulumi 3.248 on Node 20): the engine-side
 * resource transforms are unavailable under mocks, but a stack transformation registered
 * inside `runInPulumiStack` sees each resource's type, name, props and options; the
 * Outputs in props lead to the resources behind them.
 */
import { performance } from "perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { validateRawConfig, NAMESPACE, ValidatedConfig } from "../../config/load";
import * as path from "path";
import { type JsonValue, type PlanGraph, type PlanResource, SECRET_MASK, text, UNKNOWN_MASK } from "../../graph";
import { inventoryFromConfig, PciInventory } from "./inventory";
import type { StackConfigFile } from "./stackFile";


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
    readonly onMockResource?: (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> | void;
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

/** The parts of an Output the SDK keeps internal; read only here, to see through Outputs. */
interface OutputInternals {
    readonly isKnown: Promise<boolean>;
    readonly isSecret: Promise<boolean>;
    promise(withUnknowns?: boolean): Promise<unknown>;
    allResources(): Promise<Set<pulumi.Resource>>;
}

interface Captured {
    readonly resource: pulumi.Resource;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly props: pulumi.Inputs;
    readonly opts: pulumi.ResourceOptions;
}

/** The stack file's config, validated as the program will (throws ConfigError). */
export function validateStackFile(stack: string, file: StackConfigFile): ValidatedConfig {
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
 * The mock runtime's answers: a resource's state is its inputs (plus the disk paths the
 * provider computes for a VM), `hardware.getPci` answers from the inventory, and every
 * resource's provider reference is noted in `providers` (`type::name` -> provider URN).
 */
export function offlineMocks(
    inventory: PciInventory,
    providers: Map<string, string> = new Map(),
    onMockResource?: EvaluateOptions["onMockResource"],
    /** whether the host stack's objects exist (an environment's preflight asks for them) */
    hostObjectsPresent = true,
): pulumi.runtime.Mocks {
    return {
        newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
            const inputs = args.inputs as Record<string, unknown>;
            // A test may add to what the provider reports back (a command's stdout, say).
            const extra = onMockResource?.(args) ?? {};
            if (args.provider) {
                providers.set(`${args.type}::${args.name}`, args.provider.split("::").slice(0, -1).join("::"));
            }
            return { id: `${args.name}-id`, state: { ...mockState(args.type, inputs, args.name), ...extra } };
        },
        call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
            const inputs = args.inputs as Record<string, unknown>;
            if (args.token === "proxmoxve:hardware/getPci:getPci") {
                return { ...inputs, devices: inventory(text(inputs.nodeName)) };
            }
            // An environment's preflight asks for the host stack's objects.
            if (HOST_OBJECT_INVOKES.has(args.token)) {
                if (!hostObjectsPresent) {
                    throw new Error(`${args.token}: not found (offline plan with the host stack not run)`);
                }
                return hostObjectAnswer(args.token, inputs);
            }
            throw new Error(`the offline plan has no answer for invoke ${args.token}`);
        },
    };
}

const HOST_OBJECT_INVOKES = new Set([
    "proxmoxve:index/getPoolLegacy:getPoolLegacy",
    "proxmoxve:hardware/mapping/getPci:getPci",
    "proxmoxve:index/getDatastores:getDatastores",
]);

/** What Proxmox answers once the host stack has built the pool, mapping and storage. */
function hostObjectAnswer(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
    if (token === "proxmoxve:index/getDatastores:getDatastores") {
        const filters = inputs.filters !== null && typeof inputs.filters === "object" ? inputs.filters as Record<string, unknown> : {};
        return { ...inputs, datastores: [{ id: text(filters.id ?? ""), nodeName: String(inputs.nodeName), type: "zfspool", contentTypes: ["images", "rootdir"] }] };
    }
    if (token === "proxmoxve:hardware/mapping/getPci:getPci") {
        return { ...inputs, id: String(inputs.name), comment: "", maps: [], mediatedDevices: false };
    }
    return { ...inputs, comment: "", members: [] };
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
    const captured: Captured[] = [];
    let programError: Error | undefined;
    // The program's own return value: runInPulumiStack hands back the outputs resolved to
    // plain values, secrets included, so the plan reads them from the Outputs instead. And the
    // stack's outputs as a whole are unknown in a preview as soon as one of them is (the Docker
    // host before the VM exists), but each key resolves alone.
    let outputs: Record<string, unknown> = {};
    await pulumi.runtime.runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation((t) => {
            captured.push({
                resource: t.resource,
                type: t.type,
                name: t.name,
                custom: t.resource instanceof pulumi.CustomResource,
                props: t.props,
                opts: t.opts,
            });
            return undefined;
        });
        const { program } = await import("../../program");
        try {
            outputs = await program();
            return outputs;
        } catch (err) {
            // The stack resource would leave this unhandled; keep it to fail the evaluation.
            programError = err instanceof Error ? err : new Error(text(err));
            return {};
        }
    });
    if (programError !== undefined) {
        throw programError;
    }

    const urnOf = engineUrns(captured, stack);
    const duplicates = duplicateUrns([...urnOf.values()]);
    if (duplicates.length > 0) {
        throw new DuplicateUrnError(duplicates);
    }
    // The mock monitor names providers by its own URNs; translate them to the engine's.
    const mockToEngine = new Map<string, string>();
    await Promise.all(captured.map(async (c) => mockToEngine.set(String(await internals(c.resource.urn).promise()), urnOf.get(c.resource) ?? "")));

    const resources: PlanResource[] = await Promise.all(captured.map(async (c) => {
        const deps = new Set<pulumi.Resource>();
        const inputs = await resolveValue(c.props, deps);
        for (const dep of await dependsOnOf(c.opts)) {
            deps.add(dep);
        }
        const urn = urnOf.get(c.resource) ?? "";
        const parentUrn = c.opts.parent ? urnOf.get(c.opts.parent) ?? null : null;
        return {
            urn,
            type: c.type,
            name: c.name,
            parent: parentUrn,
            custom: c.custom,
            provider: c.custom ? mockToEngine.get(providers.get(`${c.type}::${c.name}`) ?? "") ?? null : null,
            inputs: isObject(inputs) ? inputs : {},
            dependencies: [...deps].map((d) => urnOf.get(d)).filter((u): u is string => u !== undefined && u !== urn).sort(),
            options: {
                protect: c.opts.protect === true,
                retainOnDelete: c.opts.retainOnDelete === true,
                ignoreChanges: [...(c.opts.ignoreChanges ?? [])].sort(),
                deleteBeforeReplace: (c.opts as pulumi.CustomResourceOptions).deleteBeforeReplace === true,
            },
        };
    }));
    resources.sort((a, b) => a.urn.localeCompare(b.urn));

    const resolvedOutputs = await resolveValue(outputs ?? {}, new Set());
    const revealed = reveal ? await resolveValue(outputs ?? {}, new Set(), true) : undefined;
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

/** Stand-in prefix for a generated secret offline: tests check it never appears in the plan in plain text. */
export const MOCK_GENERATED_SECRET = "offline-generated-secret";

/** What the provider computes on create that the program reads back: VM disk paths, generated secrets. */
function mockState(type: string, inputs: Record<string, unknown>, name = ""): Record<string, unknown> {
    // Random values are known offline, fixed per resource name (so two passwords differ and a
    // test can tell whose leaked), and every value built from them must stay secret.
    if (type === "random:index/randomPassword:RandomPassword") {
        return { ...inputs, result: `${MOCK_GENERATED_SECRET}-${name.replace(/[^A-Za-z0-9]/g, "")}` };
    }
    if (type === "random:index/randomBytes:RandomBytes") {
        const bytes = Buffer.alloc(Number(inputs.length ?? 32));
        Buffer.from(name).copy(bytes);
        return { ...inputs, base64: bytes.toString("base64"), hex: bytes.toString("hex") };
    }
    if (type === "tls:index/privateKey:PrivateKey") {
        // A stand-in key pair: the public half in OpenSSH form (what root's authorized_keys
        // gets), the private half the generated secret the plan must never show.
        const stem = Buffer.from(text(inputs.algorithm ?? "")).toString("base64").replace(/=+$/, "");
        return { ...inputs, publicKeyOpenssh: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOffline${stem}\n`, privateKeyOpenssh: `${MOCK_GENERATED_SECRET}-ssh-key` };
    }
    if (type === "proxmoxve:user/token:Token") {
        return { ...inputs, value: `${String(inputs.userId)}!${String(inputs.tokenName)}=${MOCK_GENERATED_SECRET}` };
    }
    if (type === "proxmoxve:index/vmLegacy:VmLegacy" && Array.isArray(inputs.disks)) {
        const vmId = String(inputs.vmId);
        return {
            ...inputs,
            disks: inputs.disks.map((disk: unknown, i: number) => {
                const d = (disk !== null && typeof disk === "object" ? disk : {}) as Record<string, unknown>;
                return { ...d, pathInDatastore: d.pathInDatastore ?? `vm-${vmId}-disk-${i}` };
            }),
        };
    }
    return inputs;
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


/**
 * URNs as the Pulumi engine forms them: the parent's whole qualified type chain, then the
 * type. (The mock monitor keeps only the immediate parent's type, which is not what a real
 * stack records, so pinned URNs are computed here.)
 */
function engineUrns(captured: readonly Captured[], stack: string): Map<pulumi.Resource, string> {
    const byResource = new Map(captured.map((c) => [c.resource, c]));
    const qualified = new Map<pulumi.Resource, string>();
    const qualifiedType = (c: Captured): string => {
        let q = qualified.get(c.resource);
        if (q === undefined) {
            const parent = c.opts.parent ? byResource.get(c.opts.parent) : undefined;
            q = parent ? `${qualifiedType(parent)}$${c.type}` : c.type;
            qualified.set(c.resource, q);
        }
        return q;
    };
    return new Map(captured.map((c) => [c.resource, `urn:pulumi:${stack}::ai-dualstack::${qualifiedType(c)}::${c.name}`]));
}

/** URNs registered more than once, sorted: the Pulumi engine refuses the second registration. */
export function duplicateUrns(urns: readonly string[]): string[] {
    const seen = new Set<string>();
    const twice = new Set<string>();
    for (const urn of urns) {
        (seen.has(urn) ? twice : seen).add(urn);
    }
    return [...twice].sort();
}

/** The program registers two resources under one URN: `pulumi up` would stop at the second. */
export class DuplicateUrnError extends Error {
    constructor(public readonly urns: readonly string[]) {
        super(urns.map((u) => `duplicate resource URN ${u}: the Pulumi engine refuses a second resource with the same type and name; give the guests behind it distinct names`).join("\n"));
        this.name = "DuplicateUrnError";
    }
}

function internals<T>(output: pulumi.Output<T>): OutputInternals {
    return output as unknown as OutputInternals;
}

function isObject(value: JsonValue): value is { [key: string]: JsonValue } {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

async function dependsOnOf(opts: pulumi.ResourceOptions): Promise<pulumi.Resource[]> {
    const deps = new Set<pulumi.Resource>();
    const add = async (input: unknown): Promise<void> => {
        if (pulumi.Output.isInstance(input)) {
            await add(await internals(input).promise());
        } else if (Array.isArray(input)) {
            for (const item of input) {
                await add(item);
            }
        } else if (pulumi.Resource.isInstance(input)) {
            deps.add(input);
        } else if (input instanceof Promise) {
            await add(await input);
        }
    };
    await add(opts.dependsOn);
    return [...deps];
}

/** Plain JSON for an input: secrets masked, unknowns marked, keys sorted; records the resources behind Outputs. */
async function resolveValue(value: unknown, deps: Set<pulumi.Resource>, showSecrets = false): Promise<JsonValue> {
    if (pulumi.Output.isInstance(value)) {
        const o = internals(value);
        for (const r of await o.allResources()) {
            deps.add(r);
        }
        if (!(await o.isKnown)) {
            return UNKNOWN_MASK;
        }
        const inner = await resolveValue(await o.promise(), deps, showSecrets);
        return (await o.isSecret) && !showSecrets ? SECRET_MASK : inner;
    }
    if (value instanceof Promise) {
        return resolveValue(await value, deps, showSecrets);
    }
    if (pulumi.Resource.isInstance(value)) {
        // A resource passed as a value is a dependency; its URN is in `dependencies`.
        deps.add(value);
        return "[resource]";
    }
    if (Array.isArray(value)) {
        const items: JsonValue[] = [];
        for (const item of value) {
            items.push(await resolveValue(item, deps, showSecrets));
        }
        return items;
    }
    if (value !== null && typeof value === "object") {
        const out: { [key: string]: JsonValue } = {};
        for (const key of Object.keys(value).sort()) {
            const v: unknown = (value as Record<string, unknown>)[key];
            if (v !== undefined) {
                out[key] = await resolveValue(v, deps, showSecrets);
            }
        }
        return out;
    }
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean" || value === null) {
        return value;
    }
    return value === undefined ? null : text(value);
}
