/**
 * Test helpers: evaluate the real program offline (the same machinery as `npm run plan`)
 * with a stack's config, optionally changed, and query the graph it builds.
 */
import * as fs from "fs";
import { evaluateStack, Evaluation } from "../tools/lib/evaluate";
import type { PlanResource } from "../tools/lib/graph";
import type { PciInventory } from "../tools/lib/inventory";
import { fromConfigSection, readConfigSection, stackFilePath, StackConfigFile } from "../tools/lib/stackFile";

export type ConfigSection = Record<string, unknown>;

/** The `config:` section of Pulumi.<stack>.yaml as plain data, fresh on every call. */
export function stackSection(stack: string): ConfigSection {
    return readConfigSection(stackFilePath(stack));
}

/** The stack file, with `change` applied to its parsed config section first. */
export function stackFile(stack: string, change?: (config: ConfigSection) => void): StackConfigFile {
    const section = stackSection(stack);
    change?.(section);
    return fromConfigSection(section, `Pulumi.${stack}.yaml`);
}

export async function evaluate(stack: string, change?: (config: ConfigSection) => void, inventory?: PciInventory): Promise<Evaluation> {
    return evaluateStack({ stack, file: stackFile(stack, change), inventory });
}

/** `config["ai-dualstack:<key>"]` as an object to edit in place. */
export function key<T = Record<string, unknown>>(config: ConfigSection, name: string): T {
    return config[`ai-dualstack:${name}`] as T;
}

export const TYPES = {
    vm: "proxmoxve:index/vmLegacy:VmLegacy",
    container: "proxmoxve:index/containerLegacy:ContainerLegacy",
    zfs: "proxmoxve:node/disk/zfs:Zfs",
    pci: "proxmoxve:hardware/mapping/pci:Pci",
    bridge: "proxmoxve:network/linux/bridge:Bridge",
    vlan: "proxmoxve:network/linux/vlan:Vlan",
    command: "command:remote:Command",
    file: "proxmoxve:download/file:File",
    snippet: "proxmoxve:index/fileLegacy:FileLegacy",
    firewallOptions: "proxmoxve:firewall/optionsLegacy:OptionsLegacy",
    firewallRules: "proxmoxve:firewall/rulesLegacy:RulesLegacy",
    backupJob: "proxmoxve:backup/job:Job",
    provider: "pulumi:providers:proxmoxve",
} as const;

export function ofType(resources: readonly PlanResource[], type: string): PlanResource[] {
    return resources.filter((r) => r.type === type);
}

export function byName(resources: readonly PlanResource[], name: string): PlanResource {
    const found = resources.find((r) => r.name === name);
    if (!found) {
        throw new Error(`no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
    }
    return found;
}

/** Reads a nested input by path like `cpu.type` or `disks.0.size`. */
export function input(resource: PlanResource, path: string): unknown {
    return path.split(".").reduce<unknown>((value, part) => {
        if (value !== null && typeof value === "object") {
            return (value as Record<string, unknown>)[part];
        }
        return undefined;
    }, resource.inputs);
}

/** All resources `urn` waits on, directly or through others (components count by their children too). */
export function transitiveDependencies(resources: readonly PlanResource[], urn: string): Set<string> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const children = new Map<string, string[]>();
    resources.forEach((r) => r.parent && children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]));
    const seen = new Set<string>();
    const visit = (u: string) => {
        const r = byUrn.get(u);
        for (const dep of [...(r?.dependencies ?? []), ...(r && !r.custom ? children.get(u) ?? [] : [])]) {
            if (!seen.has(dep)) {
                seen.add(dep);
                visit(dep);
            }
        }
    };
    visit(urn);
    return seen;
}

/** Whether a tool is on PATH; in CI the tools the tests need must be there. */
export function haveTool(tool: string): boolean {
    const found = (process.env.PATH ?? "").split(":").some((dir) => fs.existsSync(`${dir}/${tool}`));
    if (!found && process.env.CI) {
        throw new Error(`${tool} is required in CI (.ci/run installs it)`);
    }
    return found;
}
