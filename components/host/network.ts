import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { EnvironmentName, HostConfig, StackConfig } from "../../config/schema";
import { typeToken } from "../naming";

export interface EnvironmentNetworkArgs {
    readonly environment: EnvironmentName;
    readonly hosts: readonly HostConfig[];
    readonly network: StackConfig["network"];
}

/**
 * An environment's VLAN and bridge on every node, so its guests can sit on any node.
 * The bridge carries no address: the environments are routed (or not) by the router
 * upstream, never by the Proxmox node.
 */
export class EnvironmentNetwork extends pulumi.ComponentResource {
    /** the environment's bridge per node */
    public readonly bridges: ReadonlyMap<string, proxmoxve.network.linux.Bridge>;

    constructor(name: string, args: EnvironmentNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "EnvironmentNetwork"), name, {}, opts);
        const { network } = args;
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
        this.registerOutputs({ bridge: network.bridge, nodes: args.hosts.map((h) => h.name) });
    }
}
