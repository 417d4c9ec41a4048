import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { HostConfig, StackConfig } from "../../config/schema";
import { ipv4ToInt, isIpv4 } from "../../config/net";
import { typeToken } from "../naming";
import { clusterIpSetRef, IPSETS, subnetIpSet } from "./names";
import { securityGroups } from "../ops/firewallProfiles";
import { PORTS } from "../catalog";

export interface ClusterFirewallArgs {
    readonly hosts: readonly HostConfig[];
    /** where admins come from (host file firewall.adminSources) */
    readonly adminSources: readonly string[];
    readonly logLevelIn: string;
    /** both environments, for their subnet IP sets and security groups */
    readonly environments: readonly StackConfig[];
}

/** Ranges that are not the internet: RFC 1918, CGNAT (RFC 6598) and link-local. */
export const NON_INTERNET = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"] as const;

/**
 * The cluster firewall, on. Proxmox ignores every VM and container rule while the
 * datacenter firewall is off, which is its default (pve-firewall Firewall.pm compile():
 * `return ({}, {}, {}, {}) if !$cluster_conf->{options}->{enable}`), so without this the
 * guests' default-deny exists only on paper.
 *
 * Node access: with the firewall on, a node's input policy is DROP and its built-in rules
 * admit the API (8006), SSH (22), VNC, SPICE and migration only from the `management` IP
 * set, to which pve-firewall always adds the `local_network` alias (compile_ipsets; the
 * alias defaults to the whole network of the node's address). So `management` holds the
 * admin sources and the nodes, `local_network` is pinned to the nodes themselves
 * (pve-docs pve-firewall.adoc "Standard IP Alias local_network"), and each node gets
 * explicit rules for 8006 and 22 from `management`.
 */
export class ClusterFirewall extends pulumi.ComponentResource {
    public readonly options: proxmoxve.cluster.FirewallLegacy;
    /** cluster IP sets by name */
    public readonly ipSets: ReadonlyMap<string, proxmoxve.firewall.IpsetLegacy>;
    /** security groups by name */
    public readonly groups: ReadonlyMap<string, proxmoxve.cluster.firewall.security.GroupLegacy>;

    constructor(name: string, args: ClusterFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "ClusterFirewall"), name, {}, opts);
        const child = { parent: this };
        const nodeAddresses = args.hosts.map((h) => h.address);

        const ipSets = new Map<string, proxmoxve.firewall.IpsetLegacy>();
        const ipSet = (setName: string, comment: string, cidrs: readonly { name: string; comment: string }[]) => {
            ipSets.set(setName, new proxmoxve.firewall.IpsetLegacy(`${name}-ipset-${setName}`, { name: setName, comment, cidrs: [...cidrs] }, child));
        };
        ipSet(IPSETS.management, "ai-dualstack: admin sources and the nodes; Proxmox admits 8006, 22, VNC, SPICE, migration from here", [
            ...args.adminSources.map((cidr) => ({ name: cidr, comment: "admin source" })),
            ...args.hosts.map((h) => ({ name: h.address, comment: `node ${h.name}` })),
        ]);
        ipSet(IPSETS.admins, "ai-dualstack: admin sources (guests admit SSH and admin UIs from here)",
            args.adminSources.map((cidr) => ({ name: cidr, comment: "admin source" })));
        ipSet(IPSETS.nonInternet, "ai-dualstack: what is not the internet (public guests may not go there)",
            NON_INTERNET.map((cidr) => ({ name: cidr, comment: "not the internet" })));
        for (const env of args.environments) {
            ipSet(subnetIpSet(env.environment), `ai-dualstack ${env.environment}: the environment's subnet`, [{ name: env.network.subnet, comment: `${env.environment} VLAN ${env.network.vlanId}` }]);
        }
        this.ipSets = ipSets;

        const localNetwork = new proxmoxve.firewall.AliasLegacy(`${name}-local-network`, {
            name: "local_network",
            cidr: coveringBlock(nodeAddresses),
            comment: "ai-dualstack: the nodes only, so management access is only what the management IP set lists",
        }, child);

        const groups = new Map<string, proxmoxve.cluster.firewall.security.GroupLegacy>();
        for (const env of args.environments) {
            for (const spec of securityGroups(env)) {
                groups.set(spec.name, new proxmoxve.cluster.firewall.security.GroupLegacy(`${name}-group-${spec.name}`, {
                    name: spec.name,
                    comment: spec.comment,
                    rules: spec.rules.map((r) => ({ ...r })),
                }, { parent: this, dependsOn: [...ipSets.values()] }));
            }
        }
        this.groups = groups;

        // Rules and sets first, then the switch: turning the firewall on with nothing that
        // admits the admins would lock them out of 8006 for a moment.
        const nodeRules = args.hosts.flatMap((host) => {
            const nodeOptions = new proxmoxve.node.Firewall(`${name}-node-${host.name}`, {
                nodeName: host.name,
                enabled: true,
                logLevelIn: args.logLevelIn,
            }, child);
            const rules = new proxmoxve.firewall.RulesLegacy(`${name}-node-rules-${host.name}`, {
                nodeName: host.name,
                rules: [
                    { type: "in", action: "ACCEPT", proto: "tcp", dport: String(PORTS.proxmoxApi), source: clusterIpSetRef(IPSETS.management), comment: "Proxmox API and GUI from management", enabled: true },
                    { type: "in", action: "ACCEPT", proto: "tcp", dport: String(PORTS.ssh), source: clusterIpSetRef(IPSETS.management), comment: "SSH from management", enabled: true },
                ],
            }, { parent: this, dependsOn: [...ipSets.values()] });
            return [nodeOptions, rules];
        });

        this.options = new proxmoxve.cluster.FirewallLegacy(`${name}-options`, {
            enabled: true,
            ebtables: true,
            inputPolicy: "DROP",
            outputPolicy: "ACCEPT",
            forwardPolicy: "ACCEPT",
        }, { parent: this, dependsOn: [...ipSets.values(), localNetwork, ...nodeRules, ...groups.values()] });

        this.registerOutputs({ enabled: true, ipSets: [...ipSets.keys()], groups: [...groups.keys()] });
    }
}

/**
 * The smallest block holding every address: the single address for one node (what
 * pve-firewall.adoc advises for a single host), the nodes' common network for a cluster.
 */
export function coveringBlock(addresses: readonly string[]): string {
    const ints = addresses.filter(isIpv4).map(ipv4ToInt);
    if (ints.length === 1) {
        return addresses[0];
    }
    let prefix = 32;
    const same = (p: number) => {
        const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
        return ints.every((n) => ((n & mask) >>> 0) === ((ints[0] & mask) >>> 0));
    };
    while (prefix > 0 && !same(prefix)) prefix--;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const net = (ints[0] & mask) >>> 0;
    return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${prefix}`;
}
