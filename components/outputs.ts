/**
 * The stack outputs, typed: what `program()` returns for each kind of stack. The host stack
 * exports the box's facts and the secrets each environment stack sets; an environment stack
 * exports where its parts are and what `npm run verify` reads (tools/lib/verifyTargets.ts
 * checks at compile time that it reads only keys named here). Secrets stay Outputs marked
 * secret, so they show as [secret].
 */
import type * as pulumi from "@pulumi/pulumi";
import type { EnvironmentName } from "../config/schema";
import type { AiLayerOutputs } from "./workloads/aiServices";

/** A connection string per app, a secret. */
interface AppConnection {
    readonly app: string;
    readonly connectionString: string;
}

/** What an environment stack (private or public) exports. */
export interface EnvironmentOutputs {
    readonly environment: EnvironmentName;
    readonly pool: string;
    readonly gpuMapping: string;
    readonly zfsPool: string;
    readonly bridge: string;
    readonly vlanId: number | undefined;
    readonly subnet: string;
    /** `start-end` */
    readonly vmidRange: string;
    readonly aiVm: { readonly name: string; readonly vmid: number; readonly ip: string; readonly dataVmid: number };
    readonly containers: readonly { readonly name: string; readonly role: string; readonly vmid: number; readonly ip: string }[];
    readonly models: readonly string[];
    readonly ollama: AiLayerOutputs["ollama"];
    readonly vectorStore: AiLayerOutputs["vectorStore"];
    readonly workloads: AiLayerOutputs["workloads"];
    readonly workbench?: AiLayerOutputs["workbench"];
    readonly dockerHost: AiLayerOutputs["dockerHost"];
    /** each guest's pinned SSH host key, by guest name */
    readonly sshHostKeys: Readonly<Record<string, pulumi.Input<string>>>;
    /** per app, secret */
    readonly postgresUrls: Readonly<Record<string, pulumi.Output<string>>>;
    readonly redisUrls: Readonly<Record<string, pulumi.Output<string>>>;
    /** the same strings as lists, the shape verify reads; secret */
    readonly postgres: pulumi.Output<AppConnection[]>;
    readonly redis: pulumi.Output<AppConnection[]>;
    readonly vpnPublicKey?: pulumi.Output<string>;
    /** per generated VPN peer, its wg-quick config; secret */
    readonly vpnPeers?: Readonly<Record<string, pulumi.Output<string>>>;
    readonly grafanaAdminPassword?: pulumi.Output<string>;
}

/** One environment as the host stack records it. */
interface HostEnvironmentFacts {
    readonly file: string;
    readonly pool: string;
    readonly zfsPool: string;
    readonly gpuMapping: string;
    readonly bridge: string;
    readonly backupVmids: readonly number[];
    readonly apiUser: string;
}

/** The secrets the host stack hands each environment stack (README "Order of operations"). */
type EnvironmentSecretOutputs = Partial<Readonly<Record<`${EnvironmentName}${"ApiToken" | "VmTuneKey" | "AuditApiToken"}`, pulumi.Output<string>>>>;

/** What the host stack exports. */
export interface HostOutputs extends EnvironmentSecretOutputs {
    readonly nodes: readonly string[];
    /** per node, what host preparation does there */
    readonly hostPreparation: readonly string[];
    readonly images: { readonly cloudImage: string; readonly lxcTemplate: string };
    readonly firewall: { readonly enabled: boolean; readonly ipSets: readonly string[]; readonly securityGroups: readonly string[] };
    readonly environments: Readonly<Record<string, HostEnvironmentFacts>>;
    /** the read-only PVEAuditor token for prometheus-pve-exporter (a secret), with a monitoring container */
    readonly monitoringAuditToken?: pulumi.Output<string>;
}

/** What `program()` returns. */
export type StackOutputs = HostOutputs | EnvironmentOutputs;
