import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { StackConfig } from "../../config/schema";
import { PORTS } from "../catalog";
import { DATA_MOUNT } from "../compute/aiVm";
import { typeToken } from "../naming";
import type { AiVmProvisioning } from "../provision/aiVmProvisioning";
import { provisionCommand } from "../provision/steps";
import { sshConnection } from "../remote";
import { GeneratedSecrets, internalUrls } from "./catalog";
import { DockerHost } from "./dockerHost";
import type { Workload, WorkloadPort } from "./model";
import { WorkloadContainer } from "./workloadContainer";

export interface AiServicesArgs {
    readonly config: StackConfig;
    /** the environment's workloads (catalog.ts), declared once */
    readonly workloads: readonly Workload[];
    /** the generated secrets the workloads use */
    readonly secrets: GeneratedSecrets;
    readonly provisioning: AiVmProvisioning;
    /** private key matching one of aiVm.sshPublicKeys (a secret) */
    readonly privateKey: pulumi.Input<string>;
}

/** What `npm run verify` and a user need from the AI layer: typed stack outputs. */
export interface AiLayerOutputs {
    readonly ollama: { readonly url: string; readonly models: readonly { readonly name: string; readonly sizeGiB: number }[] };
    readonly vectorStore: { readonly kind: "qdrant" | "chroma"; readonly url: string; readonly apiKey?: pulumi.Output<string> };
    readonly workloads: readonly { readonly name: string; readonly kind: string; readonly url: string; readonly healthPath: string }[];
    readonly workbench?: { readonly url: string; readonly token: pulumi.Output<string> };
    readonly dockerHost: pulumi.Output<string>;
}

/**
 * The environment's AI layer on its VM as Pulumi resources: the generated secrets, the
 * Docker host, one container per workload, and one model pull per model.
 */
export class AiServices extends pulumi.ComponentResource {
    public readonly workloads: readonly Workload[];
    public readonly dockerHost: DockerHost;
    public readonly containers: ReadonlyMap<string, WorkloadContainer>;
    public readonly modelPulls: readonly command.remote.Command[];
    public readonly outputs: AiLayerOutputs;

    constructor(name: string, args: AiServicesArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("workloads", "AiServices"), name, {}, opts);
        const { config } = args;
        const env = config.environment;
        const child = { parent: this };

        const { secrets } = args;
        this.workloads = args.workloads;

        this.dockerHost = new DockerHost(`${name}-host`, {
            environment: env,
            user: config.aiVm.user,
            ip: config.aiVm.ip,
            ready: args.provisioning.verified,
            hostKey: args.provisioning.hostKey,
            ...(config.workloads.sshIdentityFile !== undefined ? { identityFile: config.workloads.sshIdentityFile } : {}),
        }, child);
        const dockerOpts: pulumi.ComponentResourceOptions = { parent: this, providers: [this.dockerHost.provider] };

        const containers = new Map<string, WorkloadContainer>();
        for (const workload of this.workloads) {
            containers.set(workload.name, new WorkloadContainer(workload.name, {
                environment: env,
                workload,
                network: this.dockerHost.network,
            }, dockerOpts));
        }
        this.containers = containers;

        // One resource per model: adding a model pulls only it. Nothing is deleted on destroy:
        // a rebuild destroys these resources (they are not protected) while Ollama still runs,
        // and deleting would throw away tens of GB on the protected data disk only to pull
        // them again. A model dropped from config stays on disk until `ollama rm` (README).
        const ollama = containers.get(`${env}-ollama`);
        const ollamaLocal = `http://127.0.0.1:${PORTS.ollama}`;
        const connection = sshConnection({ host: config.aiVm.ip, user: config.aiVm.user, privateKey: args.privateKey, hostKey: args.provisioning.hostKey });
        this.modelPulls = config.models.map((model) => new command.remote.Command(`${name}-model-${model.name.replace(/[^a-z0-9]+/g, "-")}`, {
            connection,
            // The command of every step (steps.ts), as the VM's user (Ollama's API is local),
            // without remoteStep's guest trigger: a replaced VM keeps its data disk and models.
            create: provisionCommand("pull-model.sh", [model.name, String(model.sizeGiB), ollamaLocal, DATA_MOUNT]),
            addPreviousOutputInEnv: false,
            logging: "stdoutAndStderr",
        }, {
            parent: this,
            dependsOn: ollama ? [ollama.container] : [],
            // A 20 GB model on a slow link: the script retries and resumes within this.
            customTimeouts: { create: "180m", update: "180m" },
        }));

        const vmUrl = (port: number) => `http://${config.aiVm.ip}:${port}`;
        // A port published on the VM's loopback is reported as 127.0.0.1: "on the AI VM itself".
        const publishedUrl = (p: WorkloadPort) => (p.from === "vm" ? `http://127.0.0.1:${p.host}` : vmUrl(p.host));
        const urls = internalUrls(env, config.workloads.vectorStore);
        const store = this.workloads.find((w) => w.kind === "vector-store");
        const workbench = this.workloads.find((w) => w.kind === "workbench");
        this.outputs = {
            ollama: { url: vmUrl(PORTS.ollama), models: config.models.map((m) => ({ name: m.name, sizeGiB: m.sizeGiB })) },
            vectorStore: {
                kind: config.workloads.vectorStore,
                // Qdrant is published to the subnet; Chroma only on the VM's loopback (127.0.0.1).
                url: store !== undefined && store.ports.length > 0 ? publishedUrl(store.ports[0]) : urls.vectorStore,
                ...(secrets.qdrantApiKey !== undefined ? { apiKey: secrets.qdrantApiKey } : {}),
            },
            workloads: this.workloads.map((w) => ({
                name: w.name,
                kind: w.kind,
                url: w.ports.length > 0 ? publishedUrl(w.ports[0]) : `http://${w.name}:${w.servicePort ?? 80}`,
                healthPath: w.health.path,
            })),
            ...(workbench !== undefined && secrets.jupyterToken !== undefined
                ? { workbench: { url: vmUrl(workbench.ports[0].host), token: secrets.jupyterToken } } : {}),
            dockerHost: this.dockerHost.host,
        };
        this.registerOutputs({ ollamaUrl: this.outputs.ollama.url });
    }
}

/** The AI layer's secrets, from @pulumi/random, marked secret wherever they go. */
export function generateSecrets(name: string, config: StackConfig, parent: pulumi.Resource): GeneratedSecrets {
    const password = (id: string, length: number) => pulumi.secret(
        new random.RandomPassword(`${name}-${id}`, { length, special: false }, { parent }).result);
    const platform = config.apps.some((a) => a.preset === "multi-tenant");
    return {
        ...(config.workloads.vectorStore === "qdrant" ? { qdrantApiKey: password("qdrant-api-key", 40) } : {}),
        webuiSecretKey: password("webui-secret-key", 48),
        ...(platform ? { adminPassword: password("platform-admin-password", 24) } : {}),
        ...(config.workbench.enabled ? { jupyterToken: password("jupyter-token", 40) } : {}),
    };
}
