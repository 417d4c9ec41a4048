/**
 * Host preparation steps as plain data: which script runs on which node with which
 * arguments. Pure, so the tests can read every command without Pulumi.
 *
 * Every step writes files named after its environment or its device and its delete
 * reverts exactly those files (see scripts/), so the private and public stacks can each
 * prepare and tear down the shared Proxmox node without touching the other's setup.
 */
import * as fs from "fs";
import * as path from "path";
import type { AiVmConfig, EnvironmentName, GpuConfig, HostConfig } from "../../config/schema";
import { shellQuote } from "../naming";

export type HostScript = "kernel-cmdline.sh" | "vfio-bind.sh";

export interface HostPrepStep {
    /** resource name suffix, unique within the environment */
    readonly id: string;
    readonly node: string;
    readonly description: string;
    readonly create: string;
    readonly delete: string;
}

export interface HostPrepInput {
    readonly environment: EnvironmentName;
    readonly hosts: readonly HostConfig[];
    readonly gpu: GpuConfig;
    readonly aiVm: AiVmConfig;
    /** prefix commands with sudo (SSH user is not root) */
    readonly sudo: boolean;
}

const SCRIPT_DIR = path.join(__dirname, "scripts");
const scriptCache = new Map<HostScript, string>();

export function scriptText(script: HostScript): string {
    let text = scriptCache.get(script);
    if (text === undefined) {
        text = fs.readFileSync(path.join(SCRIPT_DIR, script), "utf8");
        scriptCache.set(script, text);
    }
    return text;
}

/** A remote command that feeds the script to bash on stdin, so nothing is left behind on the node. */
export function scriptCommand(script: HostScript, args: readonly string[], sudo: boolean): string {
    const marker = "AI_DUALSTACK_SCRIPT_END";
    const body = scriptText(script);
    if (body.includes(marker)) {
        throw new Error(`${script} must not contain the heredoc marker ${marker}`);
    }
    const argv = args.map(shellQuote).join(" ");
    return `${sudo ? "sudo " : ""}bash -s -- ${argv} <<'${marker}'\n${body}${body.endsWith("\n") ? "" : "\n"}${marker}`;
}

/** IOMMU parameters for the node's CPU vendor; `iommu=pt` keeps host devices fast. */
export function iommuTokens(vendor: HostConfig["cpuVendor"]): string[] {
    return vendor === "intel" ? ["intel_iommu=on", "iommu=pt"] : ["amd_iommu=on", "iommu=pt"];
}

/** `0000:01:00.0` -> `0000:01:00`: the slot, so the HDMI audio function goes along. */
export function pciSlot(address: string): string {
    return address.replace(/\.[0-7]$/, "");
}

/** Hugepage reservation that backs the AI VM's RAM, or undefined when it uses none. */
export function hugepageToken(vm: Pick<AiVmConfig, "hugepages" | "memoryGiB">): string | undefined {
    switch (vm.hugepages) {
        case "1G":
            return `hugepages-1G=${vm.memoryGiB}`;
        case "2M":
            return `hugepages-2M=${vm.memoryGiB * 512}`;
        case "none":
            return undefined;
    }
}

export function hostPrepSteps(input: HostPrepInput): HostPrepStep[] {
    const { environment: env, sudo } = input;
    const hostByName = new Map(input.hosts.map((h) => [h.name, h]));
    const gpuPlacements = [
        { node: input.gpu.node, pciAddress: input.gpu.pciAddress },
        ...input.gpu.otherNodes.map((o) => ({ node: o.node, pciAddress: o.pciAddress })),
    ];
    const steps: HostPrepStep[] = [];

    for (const placement of gpuPlacements) {
        const host = hostByName.get(placement.node);
        if (host === undefined) {
            throw new Error(`GPU node ${placement.node} is not in hosts`);
        }
        const fragment = `${env}-iommu`;
        steps.push({
            id: `iommu-${host.name}`,
            node: host.name,
            description: `IOMMU on for ${host.cpuVendor} CPU (fragment ${fragment})`,
            create: scriptCommand("kernel-cmdline.sh", ["apply", fragment, ...iommuTokens(host.cpuVendor)], sudo),
            delete: scriptCommand("kernel-cmdline.sh", ["revert", fragment], sudo),
        });
        const slot = pciSlot(placement.pciAddress);
        steps.push({
            id: `vfio-${host.name}`,
            node: host.name,
            description: `${input.gpu.model} at ${slot} bound to vfio-pci`,
            create: scriptCommand("vfio-bind.sh", ["apply", slot], sudo),
            delete: scriptCommand("vfio-bind.sh", ["revert", slot], sudo),
        });
    }

    const hugepages = hugepageToken(input.aiVm);
    if (hugepages !== undefined) {
        const fragment = `${env}-hugepages`;
        steps.push({
            id: `hugepages-${input.aiVm.node}`,
            node: input.aiVm.node,
            description: `${hugepages} reserved for ${input.aiVm.name}`,
            create: scriptCommand("kernel-cmdline.sh", ["apply", fragment, hugepages], sudo),
            delete: scriptCommand("kernel-cmdline.sh", ["revert", fragment], sudo),
        });
    }
    return steps;
}
