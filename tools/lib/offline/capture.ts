/**
 * The capture: runs the program, records every resource it registers, and resolves what it
 * registered into the plan's plain JSON (inputs with secrets masked and unknowns marked,
 * options, and the resources each one waits on).
 */
import * as pulumi from "@pulumi/pulumi";
import { type JsonValue, type PlanResource, SECRET_MASK, text, UNKNOWN_MASK } from "../../../graph";
import { internals, type Registration, runRecordingRegistrations } from "./sdkInternals";

/**
 * Runs the program under the mocks already set: every resource it registers, and its outputs.
 *
 * The outputs are the program's own return value: runInPulumiStack hands back the outputs
 * resolved to plain values, secrets included, so the plan reads them from the Outputs
 * instead. And the stack's outputs as a whole are unknown in a preview as soon as one of them
 * is (the Docker host before the VM exists), but each key resolves alone.
 */
export async function captureProgram(): Promise<{ registrations: Registration[]; outputs: Record<string, unknown> }> {
    const registrations: Registration[] = [];
    let programError: Error | undefined;
    let outputs: Record<string, unknown> = {};
    await runRecordingRegistrations(async () => {
        const { program } = await import("../../../program");
        try {
            outputs = { ...await program() };
            return outputs;
        } catch (err) {
            // The stack resource would leave this unhandled; keep it to fail the evaluation.
            programError = err instanceof Error ? err : new Error(text(err));
            return {};
        }
    }, (r) => registrations.push(r));
    if (programError !== undefined) {
        throw programError;
    }
    return { registrations, outputs };
}

/**
 * The plan's resources, sorted by URN. `providers` is what the mocks noted (`type::name` ->
 * the mock monitor's provider URN), translated here to the engine's URNs in `urnOf`.
 */
export async function planResources(
    registrations: readonly Registration[],
    urnOf: ReadonlyMap<pulumi.Resource, string>,
    providers: ReadonlyMap<string, string>,
): Promise<PlanResource[]> {
    const mockToEngine = new Map<string, string>();
    await Promise.all(registrations.map(async (c) => mockToEngine.set(String(await internals(c.resource.urn).promise()), urnOf.get(c.resource) ?? "")));

    const resources: PlanResource[] = await Promise.all(registrations.map(async (c) => {
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
    return resources.sort((a, b) => a.urn.localeCompare(b.urn));
}

export function isObject(value: JsonValue): value is { [key: string]: JsonValue } {
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
export async function resolveValue(value: unknown, deps: Set<pulumi.Resource>, showSecrets = false): Promise<JsonValue> {
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
