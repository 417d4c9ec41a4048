/**
 * The firewall's vocabulary, shared by both sides: the host stack turns each service
 * profile into a cluster security group (and the subnets and admin sources into cluster IP
 * sets); an environment's guests reference those groups by name. So a port is declared
 * once (components/catalog.ts) and the rules that open it live in one group.
 *
 * pve-firewall (src/PVE/Firewall.pm): a rule's `+dc/<name>` resolves to the cluster IP set;
 * a reference to an IP set or group that does not exist makes pve-firewall drop the rule
 * with "no such ipset", which is why an environment stack checks the host objects first.
 */
import { CONTAINER_ROLES } from "../../config/schema";
import type { ContainerRole, EnvironmentName, StackConfig } from "../../config/schema";
import { parseCidr, isHostInCidr } from "../../config/net";
import { BASE_PORTS, roleProfile, ServicePort } from "../catalog";
import { clusterIpSetRef, IPSETS, MAX_GROUP_NAME, securityGroupName, subnetIpSet } from "../host/names";

export interface FirewallRule {
    /** in or out; absent on a security-group reference */
    readonly type?: "in" | "out";
    readonly action?: "ACCEPT" | "DROP" | "REJECT";
    readonly proto?: "tcp" | "udp";
    readonly dport?: string;
    readonly source?: string;
    readonly dest?: string;
    readonly securityGroup?: string;
    readonly comment: string;
    readonly enabled: true;
}

export interface SecurityGroupSpec {
    readonly name: string;
    readonly comment: string;
    readonly rules: readonly FirewallRule[];
}

/**
 * ACCEPT rules for service ports, sources named by cluster IP set. Exporter ports (`from:
 * "monitoring"`) are not among them: they open only in a guest's monitoring rule.
 */
function portRules(ports: readonly ServicePort[], env: EnvironmentName): FirewallRule[] {
    return ports.filter((p) => p.from !== "monitoring").map((p) => ({
        type: "in",
        action: "ACCEPT",
        proto: p.proto,
        dport: String(p.port),
        comment: p.comment,
        enabled: true,
        ...(p.from === "subnet" ? { source: clusterIpSetRef(subnetIpSet(env)) } : p.from === "admin" ? { source: clusterIpSetRef(IPSETS.admins) } : {}),
    }));
}

/**
 * Outbound rules of a public guest: its own subnet (gateway, its services), its DNS
 * servers, then nothing private (RFC 1918, CGNAT, link-local), then the internet. The
 * guest's output policy is DROP, so only these leave.
 */
function egressRules(env: Pick<StackConfig, "environment" | "network">): FirewallRule[] {
    const subnet = parseCidr(env.network.subnet);
    const outsideDns = env.network.dns.filter((ip) => subnet === undefined || !isHostInCidr(ip, subnet));
    return [
        { type: "out", action: "ACCEPT", dest: clusterIpSetRef(subnetIpSet(env.environment)), comment: "own subnet: gateway and the environment's services", enabled: true },
        ...outsideDns.flatMap((ip) => (["udp", "tcp"] as const).map((proto): FirewallRule => ({ type: "out", action: "ACCEPT", proto, dport: "53", dest: ip, comment: `DNS ${ip}`, enabled: true }))),
        { type: "out", action: "DROP", dest: clusterIpSetRef(IPSETS.nonInternet), comment: "no private range beyond the own subnet", enabled: true },
        { type: "out", action: "ACCEPT", comment: "the internet", enabled: true },
    ];
}

/**
 * The name of the one rule that admits an address outside the subnet and the admin sources:
 * the monitoring container's, to a guest's exporter ports. In the public environment it is
 * the only rule naming a private address, and the isolation policy allows it by this name
 * (policy/rules/isolation.ts). The name leads the rule's comment (Proxmox rules have no name).
 */
export const MONITORING_RULE = "monitoring-scrape";

/** The exporter ports of a guest: what only the monitoring container may reach. */
function monitoringPorts(env: EnvironmentName, guest: GuestKind): ServicePort[] {
    const ports = guest.kind === "ai" ? guest.ports : roleProfile(guest.role, env).ports;
    return ports.filter((p) => p.from === "monitoring");
}

/**
 * The monitoring rule of a guest: its exporter ports, from the monitoring container's address
 * only, in one rule. pve-firewall takes a comma-separated port list in `dport`
 * (src/PVE/Firewall.pm parse_port_name_number_or_range splits on ","); the scrape's replies
 * leave through conntrack's RELATED,ESTABLISHED accept at the top of the guest's chain
 * (ruleset_create_vm_chain), so a public guest's output DROP does not block them.
 */
export function monitoringRule(ports: readonly ServicePort[], source: string): FirewallRule | undefined {
    const tcp = [...new Set(ports.filter((p) => p.from === "monitoring" && p.proto === "tcp").map((p) => p.port))].sort((a, b) => a - b);
    if (tcp.length === 0) {
        return undefined;
    }
    return {
        type: "in",
        action: "ACCEPT",
        proto: "tcp",
        dport: tcp.join(","),
        source,
        comment: `${MONITORING_RULE}: exporters, from the monitoring container only`,
        enabled: true,
    };
}

/** The environments whose guests may only talk to their subnet and the internet. */
export const EGRESS_RESTRICTED: readonly EnvironmentName[] = ["public"];

/**
 * What a guest is, for its firewall: the AI VM with the ports its workloads publish
 * (components/workloads/model.ts workloadFirewallPorts), or a container of a role.
 */
export type GuestKind =
    | { readonly kind: "ai"; readonly ports: readonly ServicePort[] }
    | { readonly kind: "container"; readonly role: ContainerRole };

/**
 * Every security group the host stack creates for an environment: the base group, one per
 * container role that opens ports (every role in CONTAINER_ROLES, whether or not the
 * environment's file has such a container today), and egress where it is restricted.
 *
 * Always every role: an environment stack that adds a container of a new role references
 * its group at once, without a host-stack run in between. pve-firewall compiles a rule
 * naming a group that does not exist as a jump to an empty chain with only a warning
 * (src/PVE/Firewall.pm generate_group_rules: "no such security group"), so the role's ports would be silently
 * closed, and a missing `public-egress` would drop all of a public guest's outbound traffic.
 */
export function securityGroups(env: Pick<StackConfig, "environment" | "network">): SecurityGroupSpec[] {
    const e = env.environment;
    const groups: SecurityGroupSpec[] = [
        { name: securityGroupName(e, "base"), comment: `ai-dualstack ${e}: SSH from admins`, rules: portRules(BASE_PORTS, e) },
    ];
    // Every role's group, whether or not a container has it yet (an environment stack may add
    // one before the host stack runs again: a missing group compiles as an empty chain).
    for (const role of CONTAINER_ROLES) {
        const rules = portRules(roleProfile(role, e).ports, e);
        if (rules.length > 0) {
            groups.push({ name: securityGroupName(e, role), comment: `ai-dualstack ${e}: ${roleProfile(role, e).description}`, rules });
        }
    }
    if (EGRESS_RESTRICTED.includes(e)) {
        groups.push({ name: securityGroupName(e, "egress"), comment: `ai-dualstack ${e}: out only to the own subnet, DNS and the internet`, rules: egressRules(env) });
    }
    for (const g of groups) {
        if (g.name.length > MAX_GROUP_NAME) {
            throw new Error(`security group name ${g.name} is longer than Proxmox's ${MAX_GROUP_NAME} characters`);
        }
    }
    return groups;
}

/**
 * The rules of one guest, in order: its environment's base group; a container's role group
 * or the AI VM's own workload ports (rules of the environment stack, so an app added to
 * the environment's file needs no host-stack run); its monitoring rule when a monitoring
 * container exists (`monitoringSource`, its address); the egress group where outbound is
 * restricted. Groups and IP sets are the host stack's, referenced by name.
 */
export function guestRules(env: EnvironmentName, guest: GuestKind, monitoringSource?: string): FirewallRule[] {
    const ref = (securityGroup: string): FirewallRule => ({ securityGroup, comment: `security group ${securityGroup} (host stack)`, enabled: true });
    const own = guest.kind === "ai"
        ? portRules(guest.ports, env)
        : portRules(roleProfile(guest.role, env).ports, env).length > 0 ? [ref(securityGroupName(env, guest.role))] : [];
    const monitoring = monitoringSource !== undefined ? monitoringRule(monitoringPorts(env, guest), monitoringSource) : undefined;
    return [
        ref(securityGroupName(env, "base")),
        ...own,
        ...(monitoring !== undefined ? [monitoring] : []),
        ...(EGRESS_RESTRICTED.includes(env) ? [ref(securityGroupName(env, "egress"))] : []),
    ];
}
