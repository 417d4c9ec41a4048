/**
 * The one workload model: a container on the AI VM declared once, with its image, ports,
 * volumes, GPU use, environment, health check and secrets. The Docker containers, the AI
 * VM's guest firewall, the stack outputs, the policies (through the container labels) and
 * the README's workload table all read these declarations.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { ServicePort } from "../catalog";

export interface WorkloadPort {
    /** port inside the container */
    readonly container: number;
    /** port published on the VM */
    readonly host: number;
    /**
     * who may connect, enforced by the VM's guest firewall; `vm`: published on the VM's
     * loopback only (no firewall opening; `npm run verify` reaches it through SSH)
     */
    readonly from: ServicePort["from"] | "vm";
    readonly comment: string;
}

export interface WorkloadVolume {
    readonly containerPath: string;
    /** directory under the data disk mount: data that must survive a VM rebuild */
    readonly dataDir?: string;
    /**
     * numeric uid the image runs as, when not root: the bind mount replaces the image's own
     * (chowned) directory, so the data-disk step gives the directory to this uid
     */
    readonly ownerUid?: number;
    /** a path of the VM itself (exporters read /proc, /sys, ...), always read-only */
    readonly systemPath?: string;
}

/** A file the container gets at creation (settings the image reads). */
export interface WorkloadFile {
    readonly path: string;
    readonly content: string;
}

export interface WorkloadHealth {
    /** Docker HEALTHCHECK test, run inside the container */
    readonly test: readonly string[];
    /** HTTP path a client (npm run verify, a proxy) checks on the published or network port */
    readonly path: string;
    /** seconds the service may take to start (model servers load slowly) */
    readonly startPeriodSeconds: number;
}

/** How an app uses one of its environment's services (PostgreSQL, Redis in the service LXCs). */
export interface ServiceUse {
    /** the environment variable the connection string goes into (a secret) */
    readonly env: string;
    /** plain settings that come with it (e.g. a Redis-backed websocket manager) */
    readonly alsoEnv?: Readonly<Record<string, string>>;
}

/** What Prometheus scrapes on a workload: which job of the monitoring config. */
export type ScrapeJob = "node" | "containers" | "gpu";

export interface Workload {
    /** container name and DNS name on the environment's Docker network, env-prefixed */
    readonly name: string;
    /** which part of the catalogue it is: ollama, vector-store, app preset, workbench, exporter */
    readonly kind: string;
    readonly description: string;
    /** a pinned registry image, or a build from a Dockerfile in this repository */
    readonly image: { readonly ref: string } | { readonly build: { readonly context: string; readonly dockerfile: string; readonly tag: string } };
    readonly ports: readonly WorkloadPort[];
    /** port the service listens on inside the container (for URLs on the Docker network) */
    readonly servicePort?: number;
    readonly volumes: readonly WorkloadVolume[];
    readonly files?: readonly WorkloadFile[];
    readonly gpu: boolean;
    /** plain settings */
    readonly env: Readonly<Record<string, string>>;
    /** secret settings: values are secret Outputs, never plain text */
    readonly secretEnv: Readonly<Record<string, pulumi.Output<string>>>;
    readonly health: WorkloadHealth;
    readonly command?: readonly string[];
    /** the VM's network namespace (exporters that must see the VM itself) instead of the environment network */
    readonly hostNetwork?: boolean;
    /** kernel-level access (cAdvisor reads cgroups and /dev/kmsg) */
    readonly privileged?: boolean;
    /** extra Docker labels (metadata the policies read) */
    readonly labels?: Readonly<Record<string, string>>;
    /**
     * this environment's PostgreSQL / Redis the app uses: it gets a database (a logical
     * database for Redis) and a role of its own, and its connection string as a secret
     */
    readonly uses?: { readonly postgres?: ServiceUse; readonly redis?: ServiceUse };
    /** the public DNS name the reverse proxy serves it under (public apps only) */
    readonly publicHost?: string;
    /** an exporter the monitoring container scrapes, on its first published port */
    readonly scrape?: ScrapeJob;
}

/** Docker labels every workload container carries; `npm run policy` and `docker ps` read them. */
export const LABELS = {
    workload: "ai-dualstack.workload",
    kind: "ai-dualstack.kind",
    environment: "ai-dualstack.environment",
    healthPath: "ai-dualstack.health-path",
    ports: "ai-dualstack.ports",
    dataDirs: "ai-dualstack.data-dirs",
    gpu: "ai-dualstack.gpu",
    models: "ai-dualstack.models",
} as const;

/** The guest-firewall openings the workloads need, from their published ports. */
export function workloadFirewallPorts(workloads: readonly Workload[]): ServicePort[] {
    return workloads.flatMap((w) => w.ports.flatMap((p) => (p.from === "vm" ? [] : [{ port: p.host, proto: "tcp" as const, from: p.from, comment: `${w.name}: ${p.comment}` }])))
        .sort((a, b) => a.port - b.port);
}

/** Directories on the data disk the workloads keep data in (created by the data-disk step). */
/** Directories on the data disk the workloads keep data in, `dir` or `dir:uid` (created by the data-disk step). */
export function dataDirs(workloads: readonly Workload[]): string[] {
    return [...new Set(workloads.flatMap((w) => w.volumes.flatMap((v) => (v.dataDir ? [v.ownerUid !== undefined ? `${v.dataDir}:${v.ownerUid}` : v.dataDir] : []))))].sort();
}

/**
 * The name an app's database, role and Redis slot go by: the workload name without the
 * environment prefix, `-` as `_` (`public-poc-hello` -> `poc_hello`).
 */
export function serviceAppName(w: Workload): string {
    return w.name.replace(/^(private|public)-/, "").replace(/-/g, "_");
}

/** The apps that use PostgreSQL and Redis, in workload order. */
export function serviceUsers(workloads: readonly Workload[]): { readonly postgres: string[]; readonly redis: string[] } {
    return {
        postgres: workloads.filter((w) => w.uses?.postgres !== undefined).map(serviceAppName),
        redis: workloads.filter((w) => w.uses?.redis !== undefined).map(serviceAppName),
    };
}

/** Connection strings per app name, each a secret (from ServiceProvisioning). */
export interface ServiceConnections {
    readonly postgres: Readonly<Record<string, pulumi.Output<string>>>;
    readonly redis: Readonly<Record<string, pulumi.Output<string>>>;
}

/**
 * The workloads with their connection strings in their secret settings: each app gets the
 * strings of its own environment's services, keyed by its own name. An app that asks for a
 * service the environment does not run (no database or cache container) gets nothing and
 * keeps its built-in store.
 */
export function withConnections(workloads: readonly Workload[], connections: ServiceConnections): Workload[] {
    return workloads.map((w) => {
        const app = serviceAppName(w);
        const env: Record<string, string> = {};
        const secretEnv: Record<string, pulumi.Output<string>> = {};
        for (const service of ["postgres", "redis"] as const) {
            const use = w.uses?.[service];
            const url = connections[service][app];
            if (use !== undefined && url !== undefined) {
                secretEnv[use.env] = url;
                Object.assign(env, use.alsoEnv ?? {});
            }
        }
        return Object.keys(secretEnv).length === 0 ? w : { ...w, env: { ...w.env, ...env }, secretEnv: { ...w.secretEnv, ...secretEnv } };
    });
}

/** The reverse proxy's routes: one per workload with a public host name, to its published port on the VM. */
export function proxyRoutes(workloads: readonly Workload[], vmIp: string): { host: string; upstream: string }[] {
    return workloads.flatMap((w) => (w.publicHost !== undefined && w.ports.length > 0 ? [{ host: w.publicHost, upstream: `${vmIp}:${w.ports[0].host}` }] : []));
}
