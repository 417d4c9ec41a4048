import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { AiVmConfig, EnvironmentName, GpuConfig, HostConfig, StackConfig } from "../../config/schema";
import { typeToken } from "../naming";
import { sshConnection } from "../remote";
import { hostPrepSteps } from "./hostPrep";

export interface SshAccess {
    readonly user: string;
    readonly port: number;
    /** secret: the SSH private key for `user` on every node */
    readonly privateKey: pulumi.Input<string>;
}

export interface ProxmoxHostArgs {
    readonly environment: EnvironmentName;
    readonly hosts: readonly HostConfig[];
    readonly network: StackConfig["network"];
    readonly gpu: GpuConfig;
    readonly aiVm: AiVmConfig;
    readonly ssh: SshAccess;
}

/**
 * This environment's share of the Proxmox nodes: its VLAN and bridge on every node, and
 * the host preparation its GPU VM needs (IOMMU, vfio binding of its own card, hugepages)
 * as idempotent SSH commands whose delete reverts exactly what they wrote.
 */
export class ProxmoxHost extends pulumi.ComponentResource {
    /** this environment's bridge per node */
    public readonly bridges: ReadonlyMap<string, proxmoxve.network.linux.Bridge>;
    /** host preparation per node: guests on that node wait for it */
    public readonly preparation: ReadonlyMap<string, readonly command.remote.Command[]>;
    public readonly bridgeName: string;

    constructor(name: string, args: ProxmoxHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "ProxmoxHost"), name, {}, opts);
        const { network } = args;
        this.bridgeName = network.bridge;

        const bridges = new Map<string, proxmoxve.network.linux.Bridge>();
        for (const host of args.hosts) {
            const vlan = new proxmoxve.network.linux.Vlan(`${name}-vlan-${host.name}`, {
                nodeName: host.name,
                name: `${host.uplink}.${network.vlanId}`,
                comment: `ai-dualstack ${args.environment} VLAN ${network.vlanId}`,
            }, { parent: this });
            bridges.set(host.name, new proxmoxve.network.linux.Bridge(`${name}-bridge-${host.name}`, {
                nodeName: host.name,
                name: network.bridge,
                ports: [vlan.name],
                autostart: true,
                vlanAware: false,
                comment: `ai-dualstack ${args.environment} ${network.subnet}`,
            }, { parent: this }));
        }
        this.bridges = bridges;

        const addressOf = new Map(args.hosts.map((h) => [h.name, h.address]));
        const hostKeyOf = new Map(args.hosts.map((h) => [h.name, h.sshHostKey]));
        const preparation = new Map<string, command.remote.Command[]>();
        const steps = hostPrepSteps({
            environment: args.environment,
            hosts: args.hosts,
            gpu: args.gpu,
            aiVm: args.aiVm,
            sudo: args.ssh.user !== "root",
        });
        for (const step of steps) {
            const cmd = new command.remote.Command(`${name}-${step.id}`, {
                connection: sshConnection({
                    host: addressOf.get(step.node) ?? step.node,
                    port: args.ssh.port,
                    user: args.ssh.user,
                    privateKey: args.ssh.privateKey,
                    hostKey: hostKeyOf.get(step.node),
                }),
                create: step.create,
                delete: step.delete,
            }, {
                parent: this,
                // Old and new versions of a step write the same file: revert the old one first,
                // or the new file would be deleted right after it was written.
                deleteBeforeReplace: true,
            });
            preparation.set(step.node, [...(preparation.get(step.node) ?? []), cmd]);
        }
        this.preparation = preparation;

        this.registerOutputs({
            bridge: network.bridge,
            nodes: args.hosts.map((h) => h.name),
            steps: steps.map((s) => `${s.node}: ${s.description}`),
        });
    }
}
