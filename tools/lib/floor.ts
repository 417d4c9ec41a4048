/**
 * The benchmark's floors: what the Pulumi SDK alone costs, under the same mocks and
 * runtime settings as the offline plan (`underOfflineRuntime`).
 *
 * - replay floor: a synthetic program that registers exactly the resources of a plan graph
 *   (same types, names, inputs, parents, providers and dependencies, read from the plan
 *   JSON), each through its provider SDK's generated class. This is what the SDK needs for
 *   this graph; the plan's time above it is ours (config validation, components and their
 *   Outputs, graph capture).
 * - bare floor: the same number of resources with no inputs, parents or dependencies.
 */
import * as pulumi from "@pulumi/pulumi";
import { type JsonValue, type PlanGraph, type PlanResource, SECRET_MASK } from "../../graph";
import { underOfflineRuntime } from "./evaluate";
import { offlineMocks } from "./offline/mocks";
import { runAsStack } from "./offline/sdkInternals";

const STACK_TYPE = "pulumi:pulumi:Stack";
const PROVIDER_PREFIX = "pulumi:providers:";

/**
 * The npm package behind each type token's package: the floor registers each resource
 * through its SDK's own class, as a program would (a generated class registers all its
 * input and output properties, which costs the SDK more than a bare CustomResource).
 */
const SDK_OF_PACKAGE: Readonly<Record<string, string>> = {
    proxmoxve: "@muhlba91/pulumi-proxmoxve",
    command: "@pulumi/command",
    docker: "@pulumi/docker",
    random: "@pulumi/random",
};

/** A generated SDK resource class: `new Class(name, args, opts)`, its token on `__pulumiType`. */
type SdkClass = (new (name: string, args: pulumi.Inputs, opts: pulumi.CustomResourceOptions) => pulumi.Resource) & { readonly __pulumiType?: string };

/**
 * The provider SDK's own class for a type token, as Pulumi's code generator lays it out:
 * `proxmoxve:hardware/mapping/pci:Pci` is `hardware.mapping.Pci`, `proxmoxve:index/vmLegacy:VmLegacy`
 * is `VmLegacy` at the root, `command:remote:Command` is `remote.Command`, and a provider
 * (`pulumi:providers:proxmoxve`) is `Provider`. Only that class's module is loaded (the SDKs
 * load lazily). Undefined when the SDK is not one of ours or has no such class.
 */
export function sdkClassFor(type: string): SdkClass | undefined {
    const isProvider = type.startsWith(PROVIDER_PREFIX);
    const [pkg, module = "", name = ""] = isProvider ? [type.slice(PROVIDER_PREFIX.length), "index", "Provider"] : type.split(":");
    const sdk = SDK_OF_PACKAGE[pkg];
    if (sdk === undefined) {
        return undefined;
    }
    const parts = module.split("/");
    if (parts.length > 1 && parts[parts.length - 1] === name.charAt(0).toLowerCase() + name.slice(1)) {
        parts.pop();
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the SDK is named by the plan at run time and loads synchronously here
    let at: unknown = require(sdk);
    for (const part of [...parts.filter((p) => p !== "index"), name]) {
        at = at !== null && typeof at === "object" ? (at as Record<string, unknown>)[part] : undefined;
    }
    const found = at as SdkClass | undefined;
    return typeof found === "function" && found.__pulumiType === (isProvider ? pkg : type) ? found : undefined;
}

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
        const sdkClass = sdkClassFor(r.type);
        let resource: pulumi.Resource;
        if (sdkClass !== undefined) {
            resource = new sdkClass(r.name, inputs, { ...opts, deleteBeforeReplace: r.options.deleteBeforeReplace });
        } else if (r.type.startsWith(PROVIDER_PREFIX)) {
            resource = new ReplayedProvider(r.type.slice(PROVIDER_PREFIX.length), r.name, inputs, opts);
        } else if (r.custom) {
            resource = new ReplayedCustom(r.type, r.name, inputs, { ...opts, deleteBeforeReplace: r.options.deleteBeforeReplace });
        } else {
            resource = new ReplayedComponent(r.type, r.name, opts);
        }
        created.set(r.urn, resource);
        return resource;
    };
    await underOfflineRuntime(graph.stack, offlineMocks(() => []), () => runAsStack(async () => {
        graph.resources.forEach(create);
        await registered([...created.values()]);
        return {};
    }));
    return created.size;
}

/** Registers `count` custom resources with no inputs, parents or dependencies. */
export async function bareFloor(stack: string, count: number): Promise<number> {
    await underOfflineRuntime(stack, offlineMocks(() => []), () => runAsStack(async () => {
        const resources = Array.from({ length: count }, (_, i) => new ReplayedCustom("bench:index:Bare", `bare-${i}`, {}, {}));
        await registered(resources);
        return {};
    }));
    return count;
}
