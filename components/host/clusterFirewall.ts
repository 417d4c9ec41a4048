import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { quirkOptions } from "../quirks";
import type { HostConfig, StackConfig } from "../../config/schema";
import { typeToken } from "../naming";
import { IPSETS, subnetIpSet } from "./names";
import { securityGroups } from "../ops/firewallProfiles";

export interface ClusterFirewallArgs {
    readonly hosts: readonly HostConfig[];
    /** where admins come from (host file firewall.adminSources) */
    readonly adminSources: readonly string[];
    readonly logLevelIn: string;
    /** both environments, for their subnet IP sets and security groups */
    readonly environments: readonly StackConfig[];
}

/** Ranges that are not the internet: RFC 1918, CGNAT (RFC 6598) and link-local. */
const NON_INTERNET = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"] as const;

/**
 * The cluster firewall, on. Proxmox ignores every VM and container rule while the
 * datacenter firewall is off, which is its default (pve-firewall Firewall.pm compile():
 * `return ({}, {}, {}, {}) if !$cluster_conf->{options}->{enable}`), so without this the
 * guests' default-deny exists only on paper.
 *
 * Node access: with the firewall on, a node's input policy is DROP and its built-in rules
 * admit the API (8006), SSH (22), VNC, SPICE and migration only from the `management` IP
 * set, to which pve-firewall always adds the `local_network` alias (the alias defaults to
 * the whole network of the node's address). So `management` holds the admin sources and
 * the nodes, and `local_network` is pinned to one node (pve-docs pve-firewall.adoc
 * "Standard IP Alias local_network"). Those built-in rules are the node rules: this adds none.
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

        const ipSets = new Map<string, proxmoxve.firewall.IpsetLegacy>();
        const ipSet = (setName: string, comment: string, cidrs: readonly { name: string; comment: string }[], opts: pulumi.CustomResourceOptions = {}) => {
            ipSets.set(setName, new proxmoxve.firewall.IpsetLegacy(`${name}-ipset-${setName}`, { name: setName, comment, cidrs: [...cidrs] }, { ...child, ...opts }));
        };
        // Any entry change replaces an IP set delete-first (QUIRKS.ipsetReplacedOnChange); for
        // `management` that gap locks the admins out of 8006 and SSH. Protected, a change fails
        // the preview instead; retained, destroying the stack leaves the admins their access.
        ipSet(IPSETS.management, "ai-dualstack: admin sources and the nodes; Proxmox admits 8006, 22, VNC, SPICE, migration from here", [
            ...args.adminSources.map((cidr) => ({ name: cidr, comment: "admin source" })),
            ...args.hosts.map((h) => ({ name: h.address, comment: `node ${h.name}` })),
        ], quirkOptions("ipsetReplacedOnChange"));
        ipSet(IPSETS.admins, "ai-dualstack: admin sources (guests admit SSH and admin UIs from here)",
            args.adminSources.map((cidr) => ({ name: cidr, comment: "admin source" })));
        ipSet(IPSETS.nonInternet, "ai-dualstack: what is not the internet (public guests may not go there)",
            NON_INTERNET.map((cidr) => ({ name: cidr, comment: "not the internet" })));
        for (const env of args.environments) {
            ipSet(subnetIpSet(env.environment), `ai-dualstack ${env.environment}: the environment's subnet`, [{ name: env.network.subnet, comment: `${env.environment} VLAN ${env.network.vlanId}` }]);
        }
        this.ipSets = ipSets;

        // pve-firewall always adds local_network to `management` (src/PVE/Firewall.pm: `push
        // @{ $cluster_conf->{ipset}->{management} }, { cidr => $localnet }`), and `management`
        // is admitted to 8006, 22, 5900-5999, 3128 and 60000-60050 (the node's built-in rules,
        // "allow standard traffic for management ipset"). A block covering several nodes' addresses can
        // cover a guest subnet or, for nodes in unrelated networks, 0.0.0.0/0; so the alias is
        // one node's address (every node is in `management` already), and the host checks
        // refuse a node address or admin source inside an environment subnet
        // (config/crossEnvironment.ts).
        const localNetwork = new proxmoxve.firewall.AliasLegacy(`${name}-local-network`, {
            name: "local_network",
            cidr: localNetworkAddress(args.hosts),
            comment: "ai-dualstack: one node only, so management access is only what the management IP set lists",
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

        // Sets first, then the switch: turning the firewall on before `management` holds the
        // admins would lock them out of 8006 for a moment.
        //
        // No node rules of our own. pve-firewall's built-in host rules already admit 8006,
        // 22, 5900-5999, 3128 and 60000-60050 from `management` (src/PVE/Firewall.pm, "allow
        // standard traffic for management ipset"), ahead of the input policy, so rules that
        // repeat them add nothing; and the provider's rules resource refuses a node that
        // already has rules of the admin's (bpg proxmoxtf/resource/firewall/rules.go
        // RulesCreate: "Existing rules detected. Aborting..."). The node firewall options
        // only switch the node's firewall on and set its log level.
        const nodeOptions = args.hosts.map((host) => new proxmoxve.node.Firewall(`${name}-node-${host.name}`, {
            nodeName: host.name,
            enabled: true,
            logLevelIn: args.logLevelIn,
        }, child));

        this.options = new proxmoxve.cluster.FirewallLegacy(`${name}-options`, {
            enabled: true,
            ebtables: true,
            inputPolicy: "DROP",
            outputPolicy: "ACCEPT",
            forwardPolicy: "ACCEPT",
        }, { parent: this, dependsOn: [...ipSets.values(), localNetwork, ...nodeOptions, ...groups.values()] });

        this.registerOutputs({ enabled: true, ipSets: [...ipSets.keys()], groups: [...groups.keys()] });
    }
}

/**
 * What `local_network` is pinned to: the first node's address, a single host (what
 * pve-docs pve-firewall.adoc advises for a single host), never a block around several.
 */
function localNetworkAddress(hosts: readonly Pick<HostConfig, "address">[]): string {
    return hosts[0].address;
}
