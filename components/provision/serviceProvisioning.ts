import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerConfig, StackConfig } from "../../config/schema";
import { typeToken } from "../naming";
import { ContainerProvisioning, StepWithBundle } from "./containerProvisioning";

export interface ServiceProvisioningArgs {
    readonly config: StackConfig;
    /** the environment's service containers, in config order */
    readonly guests: readonly proxmoxve.ContainerLegacy[];
    /** the SSH key root logs in with inside the containers */
    readonly sshPrivateKey: pulumi.Input<string>;
}

/**
 * What runs inside the environment's service containers: one ContainerProvisioning per
 * container, with the steps its role needs.
 */
export class ServiceProvisioning extends pulumi.ComponentResource {
    public readonly containers: readonly ContainerProvisioning[];

    constructor(name: string, args: ServiceProvisioningArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("provision", "ServiceProvisioning"), name, {}, opts);
        const { config } = args;
        this.containers = config.containers.map((ct, i) => new ContainerProvisioning(`${ct.name}-provision`, {
            container: ct,
            guest: args.guests[i],
            privateKey: args.sshPrivateKey,
            steps: stepsFor(ct),
        }, { parent: this }));
        this.registerOutputs({});
    }
}

/** The steps of one container: the base step, then its role's service. */
function stepsFor(ct: ContainerConfig): StepWithBundle[] {
    return [{
        step: { id: "base", description: `${ct.name}: data volume at ${ct.dataMountPath}, node exporter`, script: "base.sh", args: [ct.dataMountPath] },
        bundle: [],
    }];
}
