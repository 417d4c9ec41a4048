/**
 * Host preparation as plain data: per node, the one `host-prep.sh` run that holds both
 * environments' needs (IOMMU, the GPUs bound to vfio-pci by address, the sum of their
 * hugepages). Pure, so the tests read every command without Pulumi.
 *
 * One writer per node on purpose: the kernel command line is one line shared by
 * everything on the node; steps that each read-modify-write it, from two stacks, in
 * parallel, lost or duplicated tokens. The host stack now writes the whole wanted state
 * in one run under a host-wide lock, and revert takes out exactly that state.
 */
import * as fs from "fs";
import * as path from "path";
import type { AiVmConfig, HostConfig, StackConfig } from "../../config/schema";
import { shellQuote } from "../naming";
import { heredocCommand } from "../remote";

export type HostScript = "host-prep.sh" | "node-monitoring.sh" | "vzdump-metrics.sh";

export interface NodePreparation {
    readonly node: string;
    /** the arguments of `host-prep.sh apply` */
    readonly args: readonly string[];
    readonly description: string;
    readonly create: string;
    readonly delete: string;
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
    return heredocCommand(script, scriptText(script), args.map(shellQuote).join(" "), sudo);
}

/** `0000:01:00.0` -> `0000:01:00`: the slot, so the HDMI audio function goes along. */
export function pciSlot(address: string): string {
    return address.replace(/\.[0-7]$/, "");
}

/** The hugepages that back an AI VM's RAM: size and count, or undefined when it uses none. */
export function hugepageReservation(vm: Pick<AiVmConfig, "hugepages" | "memoryGiB">): { size: "1G" | "2M"; count: number } | undefined {
    switch (vm.hugepages) {
        case "1G":
            return { size: "1G", count: vm.memoryGiB };
        case "2M":
            return { size: "2M", count: vm.memoryGiB * 512 };
        case "none":
            return undefined;
    }
}

/**
 * Per node, what both environments need from it: IOMMU when a GPU sits there, every GPU
 * slot there bound to vfio-pci, and the hugepages of every AI VM placed there, summed.
 * Nodes that need nothing get no run.
 */
export function hostPreparation(hosts: readonly HostConfig[], environments: readonly StackConfig[], sudo: boolean): NodePreparation[] {
    const plans: NodePreparation[] = [];
    for (const host of hosts) {
        const slots: string[] = [];
        const cards: string[] = [];
        let huge1g = 0;
        let huge2m = 0;
        for (const env of environments) {
            const placements = [{ node: env.gpu.node, pciAddress: env.gpu.pciAddress }, ...env.gpu.otherNodes];
            for (const p of placements.filter((pl) => pl.node === host.name)) {
                slots.push(pciSlot(p.pciAddress));
                cards.push(`${env.gpu.model} ${pciSlot(p.pciAddress)} (${env.environment})`);
            }
            const reservation = env.aiVm.node === host.name ? hugepageReservation(env.aiVm) : undefined;
            if (reservation?.size === "1G") huge1g += reservation.count;
            if (reservation?.size === "2M") huge2m += reservation.count;
        }
        if (slots.length === 0 && huge1g === 0 && huge2m === 0) {
            continue;
        }
        const args = [
            ...(slots.length > 0 ? [`iommu=${host.cpuVendor}`] : []),
            ...[...new Set(slots)].sort().map((s) => `vfio=${s}`),
            ...(huge1g > 0 ? [`hugepages-1G=${huge1g}`] : []),
            ...(huge2m > 0 ? [`hugepages-2M=${huge2m}`] : []),
        ];
        const pages = [huge1g > 0 ? `${huge1g} x 1G` : "", huge2m > 0 ? `${huge2m} x 2M` : ""].filter(Boolean).join(" + ");
        plans.push({
            node: host.name,
            args,
            description: `${cards.join(", ") || "no GPU"} bound to vfio-pci; hugepages ${pages || "none"}`,
            create: scriptCommand("host-prep.sh", ["apply", ...args], sudo),
            delete: scriptCommand("host-prep.sh", ["revert"], sudo),
        });
    }
    return plans;
}

/**
 * Where node-monitoring.sh installs the vzdump hook (vzdump-metrics.sh) on every node; the
 * backup jobs name it as their `script`. vzdump refuses to run a job whose script is
 * missing or not executable (pve-manager PVE/VZDump.pm run_hook_script), so the jobs wait
 * for the installs.
 */
export const VZDUMP_HOOK_PATH = "/usr/local/lib/ai-dualstack/vzdump-metrics";

/** Per node: the node exporter, the vzdump hook and the firewall rule for the monitoring container. */
export interface NodeMonitoring {
    readonly node: string;
    readonly create: string;
    readonly delete: string;
}

/**
 * The node-monitoring.sh runs, one per node. `monitoringIp` is the private monitoring
 * container's address (admitted to the node exporter, tcp 9100), or undefined when no
 * environment has one (then no rule, but the exporter and the hook still run).
 */
export function nodeMonitoring(hosts: readonly HostConfig[], monitoringIp: string | undefined, sudo: boolean): NodeMonitoring[] {
    const hook = Buffer.from(scriptText("vzdump-metrics.sh"), "utf8").toString("base64");
    return hosts.map((host) => ({
        node: host.name,
        create: scriptCommand("node-monitoring.sh", ["apply", host.name, monitoringIp ?? "-", hook], sudo),
        delete: scriptCommand("node-monitoring.sh", ["revert", host.name], sudo),
    }));
}
