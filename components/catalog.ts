/**
 * One place for the facts guests share: service ports and what each LXC role runs in each
 * environment. Firewalls, docs and policies read them from here.
 */
import type { ContainerRole, EnvironmentName } from "../config/schema";

export const PORTS = {
    ssh: 22,
    proxmoxApi: 8006,
    http: 80,
    https: 443,
    postgres: 5432,
    redis: 6379,
    wireguard: 51820,
    ollama: 11434,
    qdrant: 6333,
    chroma: 8000,
    openWebUi: 3000,
    prometheus: 9090,
    grafana: 3001,
    nodeExporter: 9100,
    nvidiaExporter: 9835,
} as const;

export interface ServicePort {
    readonly port: number;
    readonly proto: "tcp" | "udp";
    /** who may connect: the environment's own subnet, the admin sources, or anyone */
    readonly from: "subnet" | "admin" | "any";
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

/** Every guest accepts SSH from the admin sources and metrics scrapes from its own subnet. */
export const BASE_PORTS: readonly ServicePort[] = [
    fromAdmin(PORTS.ssh, "SSH from admin"),
    fromSubnet(PORTS.nodeExporter, "node exporter"),
];

export function roleProfile(role: ContainerRole, env: EnvironmentName): RoleProfile {
    switch (role) {
        case "database":
            return { description: "PostgreSQL (relational DB LXC)", ports: [fromSubnet(PORTS.postgres, "PostgreSQL")] };
        case "cache":
            return { description: "Redis (cache LXC)", ports: [fromSubnet(PORTS.redis, "Redis")] };
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

/** The AI VM serves its models, vector store and UI to its own subnet (the proxy or VPN in front). */
export function aiVmPorts(env: EnvironmentName): readonly ServicePort[] {
    return [
        fromSubnet(PORTS.ollama, "Ollama API"),
        env === "private" ? fromSubnet(PORTS.qdrant, "Qdrant") : fromSubnet(PORTS.chroma, "ChromaDB"),
        fromSubnet(PORTS.openWebUi, "Open WebUI"),
        fromSubnet(PORTS.nvidiaExporter, "GPU metrics"),
    ];
}
