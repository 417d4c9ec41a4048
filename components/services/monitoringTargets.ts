/**
 * What the monitoring container scrapes in one environment, derived from that
 * environment's config. The private monitoring container renders its Prometheus config
 * from its own environment's targets and the public environment's (see README: the
 * public side's targets come from the public stack file once the stacks can read each
 * other's; until then only the own environment is wired).
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
 * (Debian's prometheus-node-exporter, port 9100, opened by the container roles).
 */
export function environmentTargets(config: StackConfig): EnvironmentTargets {
    const at = (ip: string, port: number, name: string): ScrapeTarget => ({ address: `${ip}:${port}`, name });
    const role = (r: string) => config.containers.filter((ct) => ct.role === r);
    const workloads = workloadDeclarations(config);
    const onVm = (job: ScrapeJob): ScrapeTarget[] => workloads.filter((w) => w.scrape === job && w.ports.length > 0).map((w) => at(config.aiVm.ip, w.ports[0].host, config.aiVm.name));
    return {
        environment: config.environment,
        nodes: config.hosts.map((h) => at(h.address, PORTS.nodeExporter, h.name)),
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
