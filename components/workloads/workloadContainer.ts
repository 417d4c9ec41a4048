import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DATA_MOUNT } from "../compute/aiVm";
import { typeToken } from "../naming";
import { LABELS, Workload } from "./model";

export interface WorkloadContainerArgs {
    readonly environment: string;
    readonly workload: Workload;
    readonly network: docker.Network;
}

/** Log rotation for every container: at most 3 x 10 MB of logs each. */
const LOG_OPTS = { "max-size": "10m", "max-file": "3" } as const;

/**
 * One workload as Docker resources on its environment's VM: the image (pulled by tag, or
 * built from a Dockerfile in this repository and never pushed) and the container, with a
 * restart policy, its health check, log rotation and labels that carry the declaration.
 * Data lives in bind mounts under the data disk (a protected volume of the holder VM), so
 * a replaced container or a rebuilt VM finds it again.
 */
export class WorkloadContainer extends pulumi.ComponentResource {
    public readonly image: docker.RemoteImage | docker.Image;
    public readonly container: docker.Container;

    constructor(name: string, args: WorkloadContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("workloads", "WorkloadContainer"), name, {}, opts);
        const w = args.workload;
        const child = { parent: this };

        if ("ref" in w.image) {
            this.image = new docker.RemoteImage(`${name}-image`, { name: w.image.ref, keepLocally: true }, child);
        } else {
            this.image = new docker.Image(`${name}-image`, {
                imageName: w.image.build.tag,
                build: { context: w.image.build.context, dockerfile: w.image.build.dockerfile, platform: "linux/amd64" },
                skipPush: true,
                buildOnPreview: false,
            }, child);
        }
        const image = "ref" in w.image ? (this.image as docker.RemoteImage).imageId : (this.image as docker.Image).imageName;

        const env = [
            ...Object.entries(w.env).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => pulumi.output(`${k}=${v}`)),
            // Secret settings stay secret Outputs end to end.
            ...Object.entries(w.secretEnv).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => pulumi.secret(pulumi.interpolate`${k}=${v}`)),
        ];

        this.container = new docker.Container(`${name}-container`, {
            name: w.name,
            image,
            restart: "unless-stopped",
            envs: env,
            ...(w.command !== undefined ? { command: [...w.command] } : {}),
            volumes: w.volumes.map((v) => ({
                containerPath: v.containerPath,
                hostPath: v.dataDir !== undefined ? `${DATA_MOUNT}/${v.dataDir}` : v.systemPath,
                readOnly: v.dataDir === undefined,
            })),
            ...(w.files !== undefined ? { uploads: w.files.map((f) => ({ file: f.path, content: f.content })) } : {}),
            // `--gpus all`: count -1 is every GPU the VM has (its one passed-through card).
            ...(w.gpu ? { deviceRequests: [{ driver: "nvidia", count: -1, capabilities: ["gpu"] }] } : {}),
            ...(w.privileged ? { privileged: true } : {}),
            // Host-network workloads listen on the VM's own ports; the rest publish theirs.
            ...(w.hostNetwork
                ? { networkMode: "host" }
                : {
                    networksAdvanced: [{ name: args.network.name, aliases: [w.name] }],
                    ports: w.ports.map((p) => ({ internal: p.container, external: p.host, protocol: "tcp", ...(p.from === "vm" ? { ip: "127.0.0.1" } : {}) })),
                }),
            healthcheck: {
                tests: [...w.health.test],
                interval: "30s",
                timeout: "10s",
                retries: 3,
                startPeriod: `${w.health.startPeriodSeconds}s`,
            },
            logDriver: "json-file",
            logOpts: { ...LOG_OPTS },
            labels: Object.entries({
                [LABELS.workload]: w.name,
                [LABELS.kind]: w.kind,
                [LABELS.environment]: args.environment,
                [LABELS.healthPath]: w.health.path,
                [LABELS.ports]: w.ports.map((p) => `${p.host}:${p.container}/${p.from}`).join(","),
                [LABELS.dataDirs]: w.volumes.flatMap((v) => (v.dataDir ? [v.dataDir] : [])).join(","),
                ...(w.gpu ? { [LABELS.gpu]: "all" } : {}),
                ...(w.labels ?? {}),
            }).sort(([a], [b]) => a.localeCompare(b)).map(([label, value]) => ({ label, value })),
            // Wait until Docker reports it healthy, so what depends on it finds it serving.
            wait: true,
            waitTimeout: Math.max(120, w.health.startPeriodSeconds + 120),
        }, child);
        this.registerOutputs({ name: w.name });
    }
}
