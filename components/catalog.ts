/**
 * One place for the facts guests share: service ports and what each LXC role runs in each
 * environment. Firewalls, docs and policies read them from here.
 */
import { AI_SERVICE_PORTS } from "../config/ports";
import type { ContainerRole } from "../config/schema";

export const PORTS = {
    ...AI_SERVICE_PORTS,
    proxmoxApi: 8006,
    http: 80,
    https: 443,
    postgres: 5432,
    redis: 6379,
    wireguard: 51820,
    prometheus: 9090,
    grafana: 3001,
    // nodeExporter, nvidiaExporter and cadvisor come with AI_SERVICE_PORTS (config/ports.ts).
    postgresExporter: 9187,
    redisExporter: 9121,
    alertmanager: 9093,
    blackboxExporter: 9115,
    /** prometheus-pve-exporter's default (pve_exporter/cli.py --web.listen-address [::]:9221) */
    pveExporter: 9221,
} as const;

export interface ServicePort {
    readonly port: number;
    readonly proto: "tcp" | "udp";
    /**
     * who may connect: the environment's own subnet, the admin sources, anyone, or only the
     * monitoring container (an exporter: components/ops/firewallProfiles.ts monitoringRule)
     */
    readonly from: "subnet" | "admin" | "any" | "monitoring";
    readonly comment: string;
}

export interface RoleProfile {
    /** what the container is for, in the seed's words */
    readonly description: string;
    readonly ports: readonly ServicePort[];
}

const fromSubnet = (port: number, comment: string, proto: "tcp" | "udp" = "tcp"): ServicePort => ({ port, proto, from: "subnet", comment });
const fromAdmin = (port: number, comment: string): ServicePort => ({ port, proto: "tcp", from: "admin", comment });
const fromAny = (port: number, comment: string, proto: "tcp" | "udp" = "tcp"): ServicePort => ({ port, proto, from: "any", comment });
const fromMonitoring = (port: number, comment: string): ServicePort => ({ port, proto: "tcp", from: "monitoring", comment });

/**
 * Every guest accepts SSH from the admin sources. Nothing else is opened unless something
 * listens there: the AI VM's ports come from its workloads (components/workloads/catalog.ts).
 */
export const BASE_PORTS: readonly ServicePort[] = [
    fromAdmin(PORTS.ssh, "SSH from admin"),
];

/**
 * What a container of the role runs and opens. Every service container also runs the node
 * exporter (components/provision/scripts/base.sh); exporters answer only the monitoring
 * container, which may sit in the other environment.
 */
export function roleProfile(role: ContainerRole, env: "private" | "public"): RoleProfile {
    const profile = roleServices(role, env);
    return { ...profile, ports: [...profile.ports, fromMonitoring(PORTS.nodeExporter, "node exporter")] };
}

function roleServices(role: ContainerRole, env: "private" | "public"): RoleProfile {
    switch (role) {
        case "database":
            return { description: "PostgreSQL (relational DB LXC)", ports: [fromSubnet(PORTS.postgres, "PostgreSQL"), fromMonitoring(PORTS.postgresExporter, "PostgreSQL exporter")] };
        case "cache":
            return { description: "Redis (cache LXC)", ports: [fromSubnet(PORTS.redis, "Redis"), fromMonitoring(PORTS.redisExporter, "Redis exporter")] };
        case "security":
            return env === "private"
                ? { description: "WireGuard VPN entry (security LXC)", ports: [fromAny(PORTS.wireguard, "WireGuard", "udp")] }
                : { description: "Reverse proxy with TLS (security LXC)", ports: [fromAny(PORTS.http, "HTTP (ACME, redirect)"), fromAny(PORTS.https, "HTTPS")] };
        case "cicd":
            return { description: "Self-hosted CI runner for this repository's workflows (CI/CD LXC)", ports: [] };
        case "monitoring":
            return { description: "Prometheus, Grafana and alerting (monitoring LXC)", ports: [fromSubnet(PORTS.prometheus, "Prometheus"), fromAdmin(PORTS.grafana, "Grafana")] };
        case "backup":
            return { description: "Backup and restore drills (backup LXC)", ports: [] };
    }
}
