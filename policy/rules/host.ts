/**
 * The split between the host stack and the environments: the box's firewall is really on
 * and only admins reach the nodes; environment stacks hold no host-level resource.
 */
import { Finding, isRecord, ofType, records, Rule, text, TYPES } from "./model";

const MANAGEMENT_SOURCES = new Set(["+management", "+dc/management"]);
const NODE_PORTS = ["8006", "22"];

export const clusterFirewallEnforced: Rule = {
    name: "cluster-firewall-enforced",
    description: "The host stack turns the cluster firewall on (input DROP) with the management IP set Proxmox admits the API (8006) and SSH from, and adds no node rule admitting them from elsewhere.",
    level: "mandatory",
    config: {},
    check(stack) {
        if (stack.environment !== "host") {
            return [];
        }
        const findings: Finding[] = [];
        const options = ofType(stack, TYPES.clusterFirewall);
        if (options.length === 0) {
            findings.push({ urn: null, message: "no cluster firewall options: Proxmox ignores every guest rule while the datacenter firewall is off (its default)" });
        }
        for (const o of options) {
            if (o.props.enabled !== true) findings.push({ urn: o.urn, message: "the cluster firewall is not enabled: every guest rule is inert" });
            if (o.props.inputPolicy !== "DROP") findings.push({ urn: o.urn, message: `the cluster input policy is ${text(o.props.inputPolicy ?? "unset")}, needs DROP` });
        }
        const management = ofType(stack, TYPES.ipset).find((s) => s.props.name === "management" && s.props.vmId === undefined && s.props.containerId === undefined && s.props.nodeName === undefined);
        if (management === undefined) {
            findings.push({ urn: null, message: "no cluster IP set management: Proxmox admits 8006 and 22 from it and from the whole local network otherwise" });
        }
        // Node access comes from pve-firewall's built-in rules, which admit 8006, 22, the
        // consoles and migration only from `management` (src/PVE/Firewall.pm). Any node rule
        // of the stack's own that admits those ports must keep to `management` too.
        const nodeRules = ofType(stack, TYPES.firewallRules).filter((r) => typeof r.props.nodeName === "string" && r.props.vmId === undefined && r.props.containerId === undefined);
        for (const r of nodeRules) {
            for (const rule of records(r.props.rules)) {
                if (rule.type !== "in" || rule.action !== "ACCEPT") continue;
                const dports = text(rule.dport ?? "").split(",");
                for (const port of NODE_PORTS.filter((p) => rule.dport === undefined || dports.includes(p))) {
                    if (!MANAGEMENT_SOURCES.has(text(rule.source ?? ""))) {
                        findings.push({ urn: r.urn, message: `node ${text(r.props.nodeName)} admits port ${port} from ${text(rule.source ?? "anywhere")}, not only from the management IP set` });
                    }
                }
            }
        }
        return findings;
    },
};

/** Resource types only the host stack may hold. */
const HOST_LEVEL_TYPES: readonly string[] = [
    TYPES.zfs, TYPES.pciMapping, TYPES.bridge, TYPES.vlan, TYPES.clusterFirewall, TYPES.backupJob,
    TYPES.pool, TYPES.download, TYPES.nodeFirewall, TYPES.securityGroup,
];

export const hostObjectsInHostStack: Rule = {
    name: "host-objects-in-host-stack",
    description: "An environment stack holds no host-level resource (mirror, GPU mapping, bridge, VLAN, image, cluster firewall, pool, backup job); those belong to the host stack.",
    level: "mandatory",
    config: {},
    check(stack) {
        if (stack.environment === undefined || stack.environment === "host") {
            return [];
        }
        const clusterIpSet = (r: { type: string; props: Record<string, unknown> }) => r.type === TYPES.ipset && isRecord(r.props) && r.props.vmId === undefined && r.props.containerId === undefined;
        return stack.resources
            .filter((r) => HOST_LEVEL_TYPES.includes(r.type) || clusterIpSet(r))
            .map((r) => ({ urn: r.urn, message: `${stack.environment} stack holds ${r.name} (${r.type}), which belongs to the host stack` }));
    },
};
