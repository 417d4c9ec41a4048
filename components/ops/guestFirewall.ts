import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { EnvironmentName } from "../../config/schema";
import { typeToken } from "../naming";
import { EGRESS_RESTRICTED, GuestKind, guestRules } from "./firewallProfiles";

/** The guest a firewall belongs to: a VM (which also gets its ipfilter set) or a container. */
export type FirewallTarget =
    | { readonly kind: "vm"; readonly vmId: number }
    | { readonly kind: "container"; readonly containerId: number };

export interface GuestFirewallArgs {
    readonly environment: EnvironmentName;
    readonly node: string;
    readonly target: FirewallTarget;
    /** what the guest is: its security groups follow */
    readonly guestKind: GuestKind;
    /** the guest's address: a VM's ipfilter set must hold it */
    readonly ip: string;
    /** the monitoring container's address: the only source of the guest's exporter ports (none: closed) */
    readonly monitoringSource?: string;
    /** the guest the firewall belongs to: it must exist first */
    readonly guest: pulumi.Resource;
}

/**
 * A guest's firewall: on, input DROP (output DROP too in the public environment), its
 * rules the host stack's security groups for what it runs. Proxmox applies it only
 * because the guest's NIC has `firewall: true` and the cluster firewall is on.
 *
 * `ipfilter` drops every source address not in the guest's `ipfilter-net0` IP set. For a
 * container Proxmox adds the configured IP itself; for a VM the implicit set holds only
 * its link-local IPv6 (pve-firewall Firewall.pm compile_ipsets), so a VM gets the set
 * with its IPv4 address here, or it could not send a single IPv4 packet.
 */
export class GuestFirewall extends pulumi.ComponentResource {
    public readonly options: proxmoxve.firewall.OptionsLegacy;
    public readonly rules: proxmoxve.firewall.RulesLegacy;
    /** a VM's ipfilter-net0 set; containers need none */
    public readonly ipFilter?: proxmoxve.firewall.IpsetLegacy;

    constructor(name: string, args: GuestFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("ops", "GuestFirewall"), name, {}, opts);
        // The provider's firewall resources take the guest as vmId or containerId.
        const target = args.target.kind === "vm" ? { vmId: args.target.vmId } : { containerId: args.target.containerId };
        const childOpts = { parent: this, dependsOn: [args.guest] };

        if (args.target.kind === "vm") {
            this.ipFilter = new proxmoxve.firewall.IpsetLegacy(`${name}-ipfilter`, {
                nodeName: args.node,
                vmId: args.target.vmId,
                name: "ipfilter-net0",
                comment: "the addresses net0 may send from (ipfilter)",
                cidrs: [{ name: args.ip, comment: "the VM's static address" }],
            }, childOpts);
        }

        this.options = new proxmoxve.firewall.OptionsLegacy(`${name}-options`, {
            nodeName: args.node,
            ...target,
            enabled: true,
            inputPolicy: "DROP",
            outputPolicy: EGRESS_RESTRICTED.includes(args.environment) ? "DROP" : "ACCEPT",
            // The guest may only use the addresses and MACs Proxmox gave it.
            ipfilter: true,
            macfilter: true,
            dhcp: false,
            logLevelIn: "nolog",
        }, { parent: this, dependsOn: [args.guest, ...(this.ipFilter ? [this.ipFilter] : [])] });

        this.rules = new proxmoxve.firewall.RulesLegacy(`${name}-rules`, {
            nodeName: args.node,
            ...target,
            rules: guestRules(args.environment, args.guestKind, args.monitoringSource).map((r) => ({ ...r })),
        }, childOpts);

        this.registerOutputs({});
    }
}
