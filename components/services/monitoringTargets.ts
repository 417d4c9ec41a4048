/**
 * What the monitoring container scrapes in one environment, derived from that
 * environment's config. The private monitoring container renders its Prometheus config
 * from its own environment's targets and the public environment's (see README: the
 * public side's targets come from the public stack file once the stacks can read each
 * other's; until then only the own environment is wired).
 */
import type { StackConfig } from "../../config/schema";
import { PORTS } from "../catalog";
import type { EnvironmentTargets, ScrapeTarget } from "./monitoring";

type TargetsConfig = Pick<StackConfig, "environment" | "hosts" | "aiVm" | "containers" | "proxmox" | "services">;

export function environmentTargets(config: TargetsConfig): EnvironmentTargets {
    const at = (ip: string, port: number, name: string): ScrapeTarget => ({ address: `${ip}:${port}`, name });
    const role = (r: string) => config.containers.filter((ct) => ct.role === r);
    return {
        environment: config.environment,
        nodes: config.hosts.map((h) => at(h.address, PORTS.nodeExporter, h.name)),
        guests: [at(config.aiVm.ip, PORTS.nodeExporter, config.aiVm.name), ...config.containers.map((ct) => at(ct.ip, PORTS.nodeExporter, ct.name))],
        containerMetrics: [at(config.aiVm.ip, PORTS.cadvisor, config.aiVm.name)],
        gpus: [at(config.aiVm.ip, PORTS.nvidiaExporter, config.aiVm.name)],
        postgres: role("database").map((ct) => at(ct.ip, PORTS.postgresExporter, ct.name)),
        redis: role("cache").map((ct) => at(ct.ip, PORTS.redisExporter, ct.name)),
        certificates: [
            // the Proxmox API's certificate (the node's own, or the one you gave it)
            ...(config.environment === "private" ? [{ address: config.proxmox.endpoint.replace(/\/$/, ""), name: "proxmox-api" }] : []),
            ...config.services.proxy.routes.map((r) => ({ address: `https://${r.host}`, name: r.host })),
        ],
    };
}
