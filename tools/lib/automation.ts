/**
 * The thin layer over the Pulumi Automation API that `npm run drift`, `npm run rebuild`
 * and `npm run verify` use. Everything that needs the Pulumi CLI goes through `StackOps`, so the tools' logic
 * is tested with a fake and this file stays small.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent, OpMap } from "@pulumi/pulumi/automation";
import { PROJECT_DIR } from "./stackFile";
import { isRecord } from "../../graph";

/** A resource as the stack's state records it (`pulumi stack export`). */
export interface StateResource {
    readonly urn: string;
    readonly type: string;
    readonly custom: boolean;
    readonly protect: boolean;
    readonly dependencies: readonly string[];
    readonly parent?: string;
    /** `urn::id` of the provider it uses */
    readonly provider?: string;
    readonly inputs: Record<string, unknown>;
}

export interface StackOps {
    readonly name: string;
    /** the stack's resources from its state */
    resources(): Promise<StateResource[]>;
    /** `pulumi refresh --preview-only`: reads Proxmox, changes no state */
    previewRefresh(onEvent: (event: EngineEvent) => void): Promise<void>;
    /** destroys everything but the protected resources and `exclude` */
    destroy(exclude: readonly string[], onOutput: (line: string) => void): Promise<OpMap>;
    up(onOutput: (line: string) => void): Promise<OpMap>;
}

export interface Backend {
    open(stack: string): Promise<StackOps>;
}

/** The Pulumi CLI is not installed here. */
export class CliMissingError extends Error {
    constructor() {
        super("Pulumi CLI not found: drift, rebuild and verify drive the real `pulumi` binary. Install the Pulumi CLI on this machine or runner "
            + "(see the README, \"Real use with the Pulumi CLI\"), or put it on PATH, then run this again.");
        this.name = "CliMissingError";
    }
}

/** Where the `pulumi` binary is: on PATH, or where its installer puts it (~/.pulumi/bin). */
export function findPulumiCli(env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = fs.existsSync): string | undefined {
    const dirs = (env.PATH ?? "").split(path.delimiter).filter(Boolean);
    dirs.push(path.join(env.PULUMI_HOME ?? path.join(env.HOME ?? os.homedir(), ".pulumi"), "bin"));
    return dirs.map((d) => path.join(d, "pulumi")).find((p) => exists(p));
}

/** Turns what the CLI says when it fails into one line that says what to do. */
export function explainAutomationError(stack: string, err: unknown): string {
    const text = err instanceof Error ? err.message : String(err);
    if (/no stack named|stack .* not found|could not find stack/i.test(text)) {
        return `stack ${stack} does not exist in the current backend: create it with \`pulumi stack init ${stack}\` (or \`pulumi login\` to the backend that has it)`;
    }
    if (/not logged in|PULUMI_ACCESS_TOKEN|unauthorized|401|login/i.test(text) && !/proxmox/i.test(text)) {
        return "not logged in to a Pulumi state backend: run `pulumi login` (Pulumi Cloud, s3://…, or file://…; see the README) or set PULUMI_ACCESS_TOKEN";
    }
    if (/passphrase/i.test(text)) {
        return "the stack's secrets are passphrase-encrypted: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)";
    }
    if (/authentication|permission denied|403|ticket|api token/i.test(text)) {
        return `Proxmox refused the credentials: check ai-dualstack:proxmoxPassword / proxmoxApiToken (pulumi config set --secret …)\n${firstLine(text)}`;
    }
    return firstLine(text);
}

function firstLine(text: string): string {
    return text.split("\n").map((l) => l.trim()).find((l) => l.startsWith("error:")) ?? text.split("\n")[0];
}

/** A stack selected through LocalWorkspace and the installed CLI; CliMissingError without one. */
async function selectStack(stackName: string, workDir: string) {
    const cli = findPulumiCli();
    if (cli === undefined) {
        throw new CliMissingError();
    }
    const auto = await import("@pulumi/pulumi/automation");
    const pulumiCommand = await auto.PulumiCommand.get({ root: path.dirname(path.dirname(cli)) });
    return auto.LocalWorkspace.selectStack({ stackName, workDir }, { pulumiCommand });
}

/** What verify reads of a deployed stack: its outputs and its config, secrets revealed. */
export interface StackReader {
    readonly name: string;
    /** the last `pulumi up`'s outputs as plain values (empty when never deployed) */
    outputs(): Promise<Record<string, unknown>>;
    /** the stack's config: namespaced key -> value as the CLI passes it, and which are secret */
    config(): Promise<{ readonly values: Record<string, string>; readonly secretKeys: readonly string[] }>;
}

export interface ReaderBackend {
    read(stack: string): Promise<StackReader>;
}

/** The real reader: `pulumi stack output` and `pulumi config` through the Automation API. */
export function pulumiReader(workDir: string = PROJECT_DIR): ReaderBackend {
    return {
        async read(stackName: string): Promise<StackReader> {
            const stack = await selectStack(stackName, workDir);
            return {
                name: stackName,
                async outputs() {
                    const outputs = await stack.outputs();
                    return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value as unknown]));
                },
                async config() {
                    const all = await stack.getAllConfig();
                    return {
                        values: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.value])),
                        secretKeys: Object.entries(all).filter(([, v]) => v.secret).map(([k]) => k),
                    };
                },
            };
        },
    };
}

/** The real backend: this project's stacks through LocalWorkspace and the installed CLI. */
export function pulumiBackend(workDir: string = PROJECT_DIR): Backend {
    return {
        async open(stackName: string): Promise<StackOps> {
            const stack = await selectStack(stackName, workDir);
            return {
                name: stackName,
                async resources() {
                    const exported = await stack.exportStack();
                    return parseDeployment(exported.deployment);
                },
                async previewRefresh(onEvent) {
                    await stack.previewRefresh({ onEvent });
                },
                async destroy(exclude, onOutput) {
                    const result = await stack.destroy({ excludeProtected: true, exclude: [...exclude], onOutput });
                    return result.summary.resourceChanges ?? {};
                },
                async up(onOutput) {
                    const result = await stack.up({ onOutput });
                    return result.summary.resourceChanges ?? {};
                },
            };
        },
    };
}

/** Reads the resources out of an exported deployment (schema version 3). */
export function parseDeployment(deployment: unknown): StateResource[] {
    const resources = isRecord(deployment) && Array.isArray(deployment.resources) ? deployment.resources : [];
    return resources.filter(isRecord).filter((r) => typeof r.urn === "string" && typeof r.type === "string" && r.delete !== true).map((r) => ({
        urn: String(r.urn),
        type: String(r.type),
        custom: r.custom === true,
        protect: r.protect === true,
        dependencies: Array.isArray(r.dependencies) ? r.dependencies.map(String) : [],
        parent: typeof r.parent === "string" ? r.parent : undefined,
        provider: typeof r.provider === "string" ? r.provider : undefined,
        inputs: isRecord(r.inputs) ? r.inputs : {},
    }));
}

