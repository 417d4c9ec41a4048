/**
 * The benchmark's floors: what the Pulumi SDK alone costs, under the same mocks and
 * runtime settings as the offline plan (`underOfflineRuntime`).
 *
 * - replay floor: a synthetic program that registers exactly the resources of a plan graph
 *   (same types, names, inputs, parents, providers and dependencies, read from the plan
 *   JSON). This is what the SDK needs for this graph; the plan's time above it is ours
 *   (config validation, components, graph capture).
 * - bare floor: the same number of resources with no inputs, parents or dependencies.
 */
import * as pulumi from "@pulumi/pulumi";
import type { JsonValue, PlanGraph, PlanResource } from "./graph";
import { offlineMocks, underOfflineRuntime } from "./evaluate";
import { SECRET_MASK } from "./values";

const STACK_TYPE = "pulumi:pulumi:Stack";

/**
 * The npm package behind each type prefix: a program registering these types loads their
 * SDKs, so the floor loads them too (they load lazily: ~20 ms together).
 */
const SDK_OF_PACKAGE: Readonly<Record<string, string>> = {
    proxmoxve: "@muhlba91/pulumi-proxmoxve",
    command: "@pulumi/command",
    docker: "@pulumi/docker",
    random: "@pulumi/random",
};

function loadSdks(graph: PlanGraph): void {
    const packages = new Set(graph.resources.map((r) => (r.type.startsWith(PROVIDER_PREFIX) ? r.type.slice(PROVIDER_PREFIX.length) : r.type.split(":")[0])));
    for (const p of packages) {
        const sdk = SDK_OF_PACKAGE[p];
        if (sdk !== undefined) {
            require(sdk);
        }
    }
}
const PROVIDER_PREFIX = "pulumi:providers:";

/** Any provider resource, by its type token. */
class ReplayedCustom extends pulumi.CustomResource {
    constructor(type: string, name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
        super(type, name, inputs, opts);
    }
}

class ReplayedProvider extends pulumi.ProviderResource {
    constructor(pkg: string, name: string, inputs: pulumi.Inputs, opts: pulumi.ResourceOptions) {
        super(pkg, name, inputs, opts);
    }
}

/** A component with no outputs of its own, registered as the program's components are. */
class ReplayedComponent extends pulumi.ComponentResource {
    constructor(type: string, name: string, opts: pulumi.ComponentResourceOptions) {
        super(type, name, {}, opts);
        this.registerOutputs({});
    }
}

/** Waits until the mock monitor has answered for every resource. */
async function registered(resources: readonly pulumi.Resource[]): Promise<void> {
    await Promise.all(resources.map((r) => new Promise((resolve) => r.urn.apply(resolve))));
}

/** A plan input as the program would pass it: `[secret]` back to a secret value. */
function replayInput(value: JsonValue): pulumi.Input<unknown> {
    if (value === SECRET_MASK) {
        return pulumi.secret(value);
    }
    if (Array.isArray(value)) {
        return value.map(replayInput);
    }
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replayInput(v)]));
    }
    return value;
}

/** Registers the graph's resources in dependency order (parents and dependencies first). */
export async function replayFloor(graph: PlanGraph): Promise<number> {
    loadSdks(graph);
    const byUrn = new Map(graph.resources.map((r) => [r.urn, r]));
    const created = new Map<string, pulumi.Resource>();
    const create = (r: PlanResource): pulumi.Resource | undefined => {
        if (r.type === STACK_TYPE) {
            return undefined;
        }
        const known = created.get(r.urn);
        if (known) {
            return known;
        }
        const at = (urn: string | null) => (urn === null ? undefined : byUrn.get(urn));
        const parentResource = at(r.parent);
        const parent = parentResource ? create(parentResource) : undefined;
        const dependsOn = r.dependencies.map(at).filter((d): d is PlanResource => d !== undefined).map(create).filter((d): d is pulumi.Resource => d !== undefined);
        const providerResource = at(r.provider);
        const provider = providerResource ? create(providerResource) as pulumi.ProviderResource : undefined;
        const opts = { parent, dependsOn, provider, protect: r.options.protect, retainOnDelete: r.options.retainOnDelete, ignoreChanges: r.options.ignoreChanges };
        const inputs = replayInput(r.inputs) as pulumi.Inputs;
        let resource: pulumi.Resource;
        if (r.type.startsWith(PROVIDER_PREFIX)) {
            resource = new ReplayedProvider(r.type.slice(PROVIDER_PREFIX.length), r.name, inputs, opts);
        } else if (r.custom) {
            resource = new ReplayedCustom(r.type, r.name, inputs, { ...opts, deleteBeforeReplace: r.options.deleteBeforeReplace });
        } else {
            resource = new ReplayedComponent(r.type, r.name, opts);
        }
        created.set(r.urn, resource);
        return resource;
    };
    await underOfflineRuntime(graph.stack, offlineMocks(() => []), () => pulumi.runtime.runInPulumiStack(async () => {
        graph.resources.forEach(create);
        await registered([...created.values()]);
        return {};
    }));
    return created.size;
}

/** Registers `count` custom resources with no inputs, parents or dependencies. */
export async function bareFloor(stack: string, count: number): Promise<number> {
    await underOfflineRuntime(stack, offlineMocks(() => []), () => pulumi.runtime.runInPulumiStack(async () => {
        const resources = Array.from({ length: count }, (_, i) => new ReplayedCustom("bench:index:Bare", `bare-${i}`, {}, {}));
        await registered(resources);
        return {};
    }));
    return count;
}
