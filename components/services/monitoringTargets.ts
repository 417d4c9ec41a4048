/**
 * What the monitoring container scrapes in one environment, derived from that
 * environment's config. The private monitoring container renders its Prometheus config
 * from its own environment's targets and the public environment's, read from the public
 * stack file (config/load.ts otherEnvironmentsOf); the public guests admit it by its address.
 */
import type { StackConfig } from "../../config/schema";
import { PORTS } from "../catalog";
import { workloadDeclarations } from "../workloads/catalog";
import type { ScrapeJob } from "../workloads/model";
import type { EnvironmentTargets, ScrapeTarget } from "./monitoring";

/**
 * The AI VM's exporters are workloads (components/workloads/catalog.ts): their targets are
 * read from those declarations (the port each publishes), so the firewall opening and the
 * scrape target are the same number. The containers' node exporter is base.sh's
 * (Debian's prometheus-node-exporter, port 9100, in each guest's monitoring-scrape rule).
 */
/** The box's one monitoring container: in this environment, or else in another one. */
export interface MonitoringHost {
    readonly environment: StackConfig["environment"];
    readonly name: string;
    readonly ip: string;
}

/**
 * Where the monitoring container runs, for this environment's firewalls: its own (private)
 * or, for an environment without one (public), the other environment's.
 */
export function monitoringHost(config: StackConfig, others: readonly StackConfig[]): MonitoringHost | undefined {
    for (const c of [config, ...others]) {
        const ct = c.containers.find((x) => x.role === "monitoring");
        if (ct !== undefined) {
            return { environment: c.environment, name: ct.name, ip: ct.ip };
        }
    }
    return undefined;
}

/**
 * What the monitoring container scrapes in another environment: its guests' exporters and
 * its published apps' certificates. The nodes are the box's and already scraped as the
 * monitoring container's own environment's (the same hosts in every file).
 */
export function otherEnvironmentTargets(config: StackConfig): EnvironmentTargets {
    return { ...environmentTargets(config), nodes: [], pve: [] };
}

export function environmentTargets(config: StackConfig): EnvironmentTargets {
    const at = (ip: string, port: number, name: string): ScrapeTarget => ({ address: `${ip}:${port}`, name });
    const role = (r: string) => config.containers.filter((ct) => ct.role === r);
    const workloads = workloadDeclarations(config);
    const onVm = (job: ScrapeJob): ScrapeTarget[] => workloads.filter((w) => w.scrape === job && w.ports.length > 0).map((w) => at(config.aiVm.ip, w.ports[0].host, config.aiVm.name));
    return {
        environment: config.environment,
        nodes: config.hosts.map((h) => at(h.address, PORTS.nodeExporter, h.name)),
        // the API on each node (the exporter adds :8006), read with the read-only monitoring
        // token: by the name in its own certificate if it has one, else by the address the
        // cluster CA's node certificate names
        pve: config.hosts.map((h) => ({ address: h.apiName ?? h.address, name: h.name })),
        guests: [...onVm("node"), ...config.containers.map((ct) => at(ct.ip, PORTS.nodeExporter, ct.name))],
        containerMetrics: onVm("containers"),
        gpus: onVm("gpu"),
        postgres: role("database").map((ct) => at(ct.ip, PORTS.postgresExporter, ct.name)),
        redis: role("cache").map((ct) => at(ct.ip, PORTS.redisExporter, ct.name)),
        certificates: [
            // the Proxmox API's certificate (the node's own, or the one you gave it)
            ...(config.environment === "private" ? [{ address: config.proxmox.endpoint.replace(/\/$/, ""), name: "proxmox-api" }] : []),
            // every app the reverse proxy publishes
            ...workloads.flatMap((w) => (w.publicHost !== undefined ? [{ address: `https://${w.publicHost}`, name: w.publicHost }] : [])),
        ],
    };
}
