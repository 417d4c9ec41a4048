/**
 * Test helpers: evaluate the real program offline (the same machinery as `npm run plan`)
 * with a stack's config, optionally changed, and query the graph it builds.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import type { HostStackConfig } from "../config/load";
import type { StackConfig } from "../config/schema";
import { evaluateStack } from "../tools/lib/evaluate";
import type { PlanGraph, PlanResource } from "../graph";
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

/** A stack file written to a scratch directory (a sibling other files can name by absolute path). */
export function writeStackFile(stack: string, change?: (config: ConfigSection) => void): string {
    const section = stackSection(stack);
    change?.(section);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "stack-")), `Pulumi.${stack}.yaml`);
    fs.writeFileSync(file, stringify({ config: section }));
    return file;
}

export interface EnvEvaluation {
    readonly graph: PlanGraph;
    readonly config: StackConfig;
}

export interface EvaluateOptions {
    /** changes to the host stack file the environment reads its box facts from */
    readonly host?: (config: ConfigSection) => void;
    readonly inventory?: PciInventory;
    readonly hostObjects?: "present" | "missing";
}

/** Evaluates an environment stack (private, public), its file changed by `change`. */
export async function evaluate(stack: string, change?: (config: ConfigSection) => void, options: EvaluateOptions = {}): Promise<EnvEvaluation> {
    const hostFile = options.host ? writeStackFile("host", options.host) : undefined;
    const file = stackFile(stack, (c) => {
        if (hostFile !== undefined) c["ai-dualstack:hostStack"] = hostFile;
        change?.(c);
    });
    const { graph, validated } = await evaluateStack({ stack, file, inventory: options.inventory, hostObjects: options.hostObjects });
    if (validated.kind !== "environment") {
        throw new Error(`${stack} is not an environment stack`);
    }
    return { graph, config: validated.stack };
}

/**
 * The two committed environment stacks, evaluated once before the tests of the calling
 * `describe` (or file), one after the other (an evaluation sets the mock runtime).
 */
export function seedEnvironments(): { readonly private: EnvEvaluation; readonly public: EnvEvaluation } {
    const seen: Partial<Record<"private" | "public", EnvEvaluation>> = {};
    beforeAll(async () => {
        seen.private = await evaluate("private");
        seen.public = await evaluate("public");
    });
    const get = (stack: "private" | "public"): EnvEvaluation => {
        const e = seen[stack];
        if (e === undefined) throw new Error(`the ${stack} stack is evaluated in beforeAll; read it inside a test`);
        return e;
    };
    return { get private() { return get("private"); }, get public() { return get("public"); } };
}

export interface HostEvaluation {
    readonly graph: PlanGraph;
    readonly host: HostStackConfig;
}

/** Evaluates the host stack; `environments` changes either environment's file it reads. */
export async function evaluateHost(change?: (config: ConfigSection) => void, environments: { private?: (c: ConfigSection) => void; public?: (c: ConfigSection) => void } = {}, inventory?: PciInventory): Promise<HostEvaluation> {
    const files = Object.fromEntries(Object.entries(environments).map(([env, fn]) => [env, writeStackFile(env, fn)]));
    const file = stackFile("host", (c) => {
        if (Object.keys(files).length > 0) {
            c["ai-dualstack:environments"] = { private: files.private ?? "Pulumi.private.yaml", public: files.public ?? "Pulumi.public.yaml" };
        }
        change?.(c);
    });
    const { graph, validated } = await evaluateStack({ stack: "host", file, inventory });
    if (validated.kind !== "host") {
        throw new Error("the host file is not a host stack");
    }
    return { graph, host: validated };
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
    ipset: "proxmoxve:firewall/ipsetLegacy:IpsetLegacy",
    alias: "proxmoxve:firewall/aliasLegacy:AliasLegacy",
    clusterFirewall: "proxmoxve:cluster/firewallLegacy:FirewallLegacy",
    securityGroup: "proxmoxve:cluster/firewall/security/groupLegacy:GroupLegacy",
    nodeFirewall: "proxmoxve:node/firewall:Firewall",
    pool: "proxmoxve:index/poolLegacy:PoolLegacy",
    poolMembership: "proxmoxve:pool/membershipLegacy:MembershipLegacy",
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
/**
 * A HOME without dot files for the shell scripts under test. bash with a socket on stdin
 * (node's stdio pipes are socketpairs) and SHLVL < 2 takes itself for an sshd session and
 * sources ~/.bashrc (bash shell.c run_startup_files: run_by_ssh / isnetconn), whose PATH
 * edits would put the real tools in front of a test's stubs: the monitoring.sh tests found
 * a real python3 in every full jest run (its workers run with SHLVL unset).
 */
export const NO_RC_HOME = fs.mkdtempSync(path.join(os.tmpdir(), "ai-dualstack-home-"));

/** The environment a script under test runs in: this process's, with HOME at NO_RC_HOME, and `extra`. */
export function scriptEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    return { ...process.env, HOME: NO_RC_HOME, ...extra };
}

export function haveTool(tool: string): boolean {
    const found = (process.env.PATH ?? "").split(":").some((dir) => fs.existsSync(`${dir}/${tool}`));
    if (!found && process.env.CI) {
        throw new Error(`${tool} is required in CI (.ci/run installs it)`);
    }
    return found;
}
