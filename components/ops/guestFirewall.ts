import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { BASE_PORTS, ServicePort } from "../catalog";
import { typeToken } from "../naming";

export interface GuestFirewallArgs {
    readonly node: string;
    /** exactly one of vmId (VM) or containerId (LXC) */
    readonly vmId?: number;
    readonly containerId?: number;
    /** the guest's own service ports; SSH and metrics are always added */
    readonly ports: readonly ServicePort[];
    readonly subnet: string;
    readonly adminSources: readonly string[];
    /** the guest the firewall belongs to: it must exist first */
    readonly guest: pulumi.Resource;
}

/**
 * A guest's firewall: on, input DROP, and one ACCEPT rule per service port from the
 * sources the port is meant for. Proxmox applies it only because the guest's NIC has
 * `firewall: true`.
 */
export class GuestFirewall extends pulumi.ComponentResource {
    public readonly options: proxmoxve.firewall.OptionsLegacy;
    public readonly rules: proxmoxve.firewall.RulesLegacy;

    constructor(name: string, args: GuestFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("ops", "GuestFirewall"), name, {}, opts);
        if ((args.vmId === undefined) === (args.containerId === undefined)) {
            throw new pulumi.ResourceError("a guest firewall needs exactly one of vmId or containerId", this);
        }
        const target = args.vmId !== undefined ? { vmId: args.vmId } : { containerId: args.containerId };
        const childOpts = { parent: this, dependsOn: [args.guest] };

        this.options = new proxmoxve.firewall.OptionsLegacy(`${name}-options`, {
            nodeName: args.node,
            ...target,
            enabled: true,
            inputPolicy: "DROP",
            outputPolicy: "ACCEPT",
            // The guest may only use the addresses and MACs Proxmox gave it.
            ipfilter: true,
            macfilter: true,
            dhcp: false,
            logLevelIn: "nolog",
        }, childOpts);

        this.rules = new proxmoxve.firewall.RulesLegacy(`${name}-rules`, {
            nodeName: args.node,
            ...target,
            rules: firewallRules([...BASE_PORTS, ...args.ports], args.subnet, args.adminSources),
        }, childOpts);

        this.registerOutputs({});
    }
}

/** ACCEPT rules in a stable order; `any` ports carry no source. */
export function firewallRules(ports: readonly ServicePort[], subnet: string, adminSources: readonly string[]) {
    return ports.map((p) => ({
        type: "in",
        action: "ACCEPT",
        proto: p.proto,
        dport: String(p.port),
        comment: p.comment,
        enabled: true,
        ...(p.from === "subnet" ? { source: subnet } : p.from === "admin" ? { source: adminSources.join(",") } : {}),
    }));
}
