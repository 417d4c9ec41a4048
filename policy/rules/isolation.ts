/**
 * Environment isolation: nothing in one environment's stack names the other's pool, GPU
 * mapping, bridge, VLAN, subnet, VMID range or guest names. The identities come from policy
 * config (by default read from the stack files, see ../identities.ts).
 *
 * One allowance is known by name: a firewall rule named MONITORING_RULE (the name leads its
 * comment) that admits, inbound, exactly the other environment's monitoring container's
 * address (`monitoringSource` of that environment's identity) to exporter ports. Its source
 * is not a finding; any other address of the other side, anywhere, still is.
 */
import { PORTS } from "../../components/catalog";
import { MONITORING_RULE } from "../../components/ops/firewallProfiles";
import { isHostInCidr, isIpv4, parseCidr } from "../../config/net";
import { Finding, isRecord, Rule } from "./model";

export interface EnvironmentIdentity {
    readonly environment: string;
    readonly pool: string;
    readonly gpuMapping: string;
    readonly bridge: string;
    readonly vlanId: number;
    readonly subnet: string;
    readonly vmidStart: number;
    readonly vmidEnd: number;
    /** the address of the monitoring container this environment runs (private), if any */
    readonly monitoringSource?: string;
}

export interface IsolationConfig {
    readonly environments: readonly EnvironmentIdentity[];
    /** exact tokens that may cross (e.g. a monitoring source the user opened on purpose) */
    readonly allow: readonly string[];
}

const VMID_KEYS = new Set(["vmId", "vmid", "containerId", "dataVmid"]);

/** The exporters' ports (components/catalog.ts PORTS): all the monitoring allowance may open. */
export const EXPORTER_PORTS: ReadonlySet<number> = new Set([PORTS.nodeExporter, PORTS.nvidiaExporter, PORTS.cadvisor, PORTS.postgresExporter, PORTS.redisExporter]);

/** Whether a pve-firewall `dport` is a comma-separated list of single exporter ports (no ranges, no names). */
function onlyExporterPorts(dport: unknown): boolean {
    return typeof dport === "string" && dport.length > 0
        && dport.split(",").every((p) => /^\d+$/.test(p.trim()) && EXPORTER_PORTS.has(Number(p.trim())));
}

/**
 * The named monitoring allowance: an inbound ACCEPT rule for tcp to exporter ports only,
 * whose comment starts with MONITORING_RULE and whose source is exactly the other
 * environment's monitoring address (no block, no list: one host). A rule with the name but
 * another protocol, no port or a port that is not an exporter's is no allowance.
 */
function isMonitoringAllowance(value: Record<string, unknown>, other: EnvironmentIdentity): boolean {
    return other.monitoringSource !== undefined
        && value.type === "in" && value.action === "ACCEPT"
        && value.proto === "tcp" && onlyExporterPorts(value.dport)
        && typeof value.comment === "string" && value.comment.startsWith(`${MONITORING_RULE}:`)
        && value.source === other.monitoringSource;
}
const VLAN_KEYS = new Set(["vlan", "vlanId", "tag"]);

function isolationFindings(urn: string, props: Record<string, unknown>, other: EnvironmentIdentity, allow: ReadonlySet<string>): string[] {
    const found = new Set<string>();
    const subnet = parseCidr(other.subnet);
    const names = new Map<string, string>([
        [other.pool, `the ${other.environment} ZFS pool`],
        [other.gpuMapping, `the ${other.environment} GPU mapping`],
        [other.bridge, `the ${other.environment} bridge`],
    ]);
    const visit = (value: unknown, key: string | undefined, inVmids: boolean) => {
        if (typeof value === "string") {
            for (const token of value.split(/[^A-Za-z0-9_./-]+/).filter(Boolean)) {
                if (allow.has(token)) continue;
                // `//10.10.10.10` out of a URL, `10.10.10.0/24` as a block: the address either way.
                const ip = token.replace(/^\/+/, "").replace(/\/\d+$/, "");
                const what = names.get(token)
                    ?? (token.startsWith(`${other.environment}-`) ? `a ${other.environment} name` : undefined)
                    ?? (subnet && isIpv4(ip) && (isHostInCidr(ip, subnet) || token === other.subnet) ? `an address in the ${other.environment} subnet ${other.subnet}` : undefined)
                    ?? (new RegExp(`^[A-Za-z][A-Za-z0-9_-]*\\.${other.vlanId}$`).test(token) ? `the ${other.environment} VLAN ${other.vlanId}` : undefined)
                    ?? (inVmids && /^\d+$/.test(token) && Number(token) >= other.vmidStart && Number(token) <= other.vmidEnd ? `a VMID in the ${other.environment} range ${other.vmidStart}-${other.vmidEnd}` : undefined);
                if (what) found.add(`${token.replace(/^\/+/, "")} (${what})`);
            }
        } else if (typeof value === "number") {
            if (key !== undefined && (VMID_KEYS.has(key) || inVmids) && value >= other.vmidStart && value <= other.vmidEnd && !allow.has(String(value))) {
                found.add(`${value} (a VMID in the ${other.environment} range ${other.vmidStart}-${other.vmidEnd})`);
            }
            if (key !== undefined && VLAN_KEYS.has(key) && value === other.vlanId && !allow.has(String(value))) {
                found.add(`${value} (the ${other.environment} VLAN)`);
            }
        } else if (Array.isArray(value)) {
            value.forEach((v) => visit(v, key, inVmids || key === "vmids"));
        } else if (isRecord(value)) {
            // The one named allowance: its source is the other side's monitoring address by design.
            const allowed = isMonitoringAllowance(value, other);
            Object.entries(value).filter(([k]) => !(allowed && k === "source")).forEach(([k, v]) => visit(v, k, false));
        }
    };
    visit(props, undefined, false);
    return [...found].sort().map((f) => `${urn.split("::").pop()} names ${f}`);
}

export const environmentIsolation: Rule<IsolationConfig> = {
    name: "environment-isolation",
    description: "Nothing in one environment names the other's pool, GPU mapping, bridge, VLAN, subnet, VMID range or guests.",
    level: "mandatory",
    config: {
        environments: {
            type: "array",
            default: [],
            description: "each environment's identity: {environment, pool, gpuMapping, bridge, vlanId, subnet, vmidStart, vmidEnd, monitoringSource?}",
            items: { type: "object" },
        },
        allow: { type: "array", default: [], items: { type: "string" }, description: "tokens allowed to cross, e.g. a monitoring host's address" },
    },
    check(stack, config) {
        if (stack.environment === undefined) {
            return [{ urn: null, message: "the stack has no ai-dualstack Environment, so its side cannot be told" }];
        }
        if (stack.environment === "host") {
            // The host stack serves both environments by design; what it may hold is checked by host rules.
            return [];
        }
        const others = config.environments.filter((e) => e.environment !== stack.environment);
        if (others.length === 0) {
            return [{ urn: null, message: `policy config lists no environment other than ${stack.environment} to keep apart from` }];
        }
        const allow = new Set(config.allow);
        const findings: Finding[] = [];
        for (const r of stack.resources) {
            for (const other of others) {
                // The resource's own name counts too: a public stack must not hold "private-…".
                isolationFindings(r.urn, { name: r.name, ...r.props }, other, allow)
                    .forEach((message) => findings.push({ urn: r.urn, message: `${stack.environment} stack: ${message}` }));
            }
        }
        return findings;
    },
};
