/**
 * Builds a drift report from the engine events of a refresh preview
 * (`stack.previewRefresh({ onEvent })`). Pure: tested on event fixtures shaped like
 * `@pulumi/pulumi/automation` EngineEvents.
 *
 * A resource has drifted when what Proxmox reports differs from the recorded state
 * (changed properties) or it is gone (deleted out of band). Differences on paths of the
 * provider-quirks catalogue are reported as known noise, not drift. Secret values never
 * appear: they are masked whether the engine marked them or their name says so.
 */
import type { EngineEvent, StepEventMetadata } from "@pulumi/pulumi/automation";
import { isKnownNoise } from "../../components/quirks";
import { isSecretBearingKey } from "../../policy/rules/secrets";
import { isRecord, SECRET_MASK } from "../../graph";

/** The engine's marker for a serialized secret value. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export interface PropertyChange {
    readonly path: string;
    readonly old: unknown;
    readonly new: unknown;
}

export interface DriftedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** changed: properties differ; deleted: the resource is gone from Proxmox */
    readonly status: "changed" | "deleted";
    readonly changes: PropertyChange[];
}

export interface NoisyResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly changes: PropertyChange[];
}

export interface DriftReport {
    readonly stack: string;
    /** resources the refresh looked at */
    readonly checked: number;
    readonly drifted: DriftedResource[];
    /** resources whose only differences are known provider quirks */
    readonly knownNoise: NoisyResource[];
    readonly summary: { readonly drifted: number; readonly deleted: number; readonly knownNoise: number; readonly unchanged: number };
}

export type DriftExitCode = 0 | 1 | 2;

/** 0 no drift (known noise included), 2 drift. Errors are 1 and never get here. */
export function driftExitCode(report: DriftReport): DriftExitCode {
    return report.drifted.length > 0 ? 2 : 0;
}

export function buildDriftReport(stack: string, events: readonly EngineEvent[]): DriftReport {
    // The last word about each resource wins; pre-events and output events carry the same metadata.
    const latest = new Map<string, StepEventMetadata>();
    for (const e of events) {
        const meta = e.resourcePreEvent?.metadata ?? e.resOutputsEvent?.metadata;
        if (meta && isManaged(meta)) {
            latest.set(meta.urn, meta);
        }
    }
    const drifted: DriftedResource[] = [];
    const knownNoise: NoisyResource[] = [];
    let unchanged = 0;
    for (const meta of [...latest.values()].sort((a, b) => a.urn.localeCompare(b.urn))) {
        const base = { urn: meta.urn, type: meta.type, name: nameOf(meta.urn) };
        if (isDeleted(meta)) {
            drifted.push({ ...base, status: "deleted", changes: [] });
            continue;
        }
        const changes = changesOf(meta);
        const real = changes.filter((c) => !isKnownNoise(meta.type, c.path));
        if (real.length > 0) {
            drifted.push({ ...base, status: "changed", changes: real });
        } else if (changes.length > 0) {
            knownNoise.push({ ...base, changes });
        } else {
            unchanged += 1;
        }
    }
    return {
        stack,
        checked: latest.size,
        drifted,
        knownNoise,
        summary: {
            drifted: drifted.filter((d) => d.status === "changed").length,
            deleted: drifted.filter((d) => d.status === "deleted").length,
            knownNoise: knownNoise.length,
            unchanged,
        },
    };
}

/** Custom resources only: not the stack, not components, not providers. */
function isManaged(meta: StepEventMetadata): boolean {
    if (meta.type === "pulumi:pulumi:Stack" || meta.type.startsWith("pulumi:providers:")) {
        return false;
    }
    const state = meta.old ?? meta.new;
    return state?.custom !== false;
}

function isDeleted(meta: StepEventMetadata): boolean {
    return meta.op === "delete" || (meta.op === "refresh" && meta.old !== undefined && meta.new === undefined);
}

function nameOf(urn: string): string {
    return urn.split("::").pop() ?? urn;
}

function changesOf(meta: StepEventMetadata): PropertyChange[] {
    if (meta.op === "same" || meta.op === "read") {
        return [];
    }
    const before = meta.old?.outputs ?? {};
    const after = meta.new?.outputs ?? {};
    const paths = meta.detailedDiff && Object.keys(meta.detailedDiff).length > 0
        ? Object.keys(meta.detailedDiff)
        : leafDifferences(before, after, "", meta.diffs);
    return paths.sort().map((path) => ({
        path,
        old: masked(path, valueAt(before, path)),
        new: masked(path, valueAt(after, path)),
    }));
}

/** Leaf paths where two values differ, limited to `keys` at the top when the engine named them. */
function leafDifferences(a: unknown, b: unknown, path: string, keys?: readonly string[]): string[] {
    if (isSecretValue(a) || isSecretValue(b)) {
        return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
    }
    if (isRecord(a) && isRecord(b)) {
        const names = keys && path === "" ? keys : [...new Set([...Object.keys(a), ...Object.keys(b)])];
        return names.flatMap((k) => leafDifferences(a[k], b[k], path ? `${path}.${k}` : k));
    }
    if (Array.isArray(a) && Array.isArray(b)) {
        return Array.from({ length: Math.max(a.length, b.length) }, (_, i) => leafDifferences(a[i], b[i], `${path}[${i}]`)).flat();
    }
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}

/** Reads `disks[0].speed.read` from outputs. */
function valueAt(root: unknown, path: string): unknown {
    const parts = path.match(/[^.[\]]+/g) ?? [];
    return parts.reduce<unknown>((v, part) => {
        if (Array.isArray(v) && /^\d+$/.test(part)) return v[Number(part)];
        return isRecord(v) ? v[part] : undefined;
    }, root);
}

function masked(path: string, value: unknown): unknown {
    const parts = path.match(/[^.[\]]+/g) ?? [];
    if (parts.some((p) => isSecretBearingKey(p)) || isSecretValue(value)) {
        return value === undefined ? undefined : SECRET_MASK;
    }
    return maskDeep(value);
}

function maskDeep(value: unknown): unknown {
    if (isSecretValue(value)) return SECRET_MASK;
    if (Array.isArray(value)) return value.map(maskDeep);
    if (isRecord(value)) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSecretBearingKey(k) && v !== undefined ? SECRET_MASK : maskDeep(v)]));
    }
    return value;
}

function isSecretValue(value: unknown): boolean {
    return value === SECRET_MASK || (isRecord(value) && SECRET_SIG in value);
}

