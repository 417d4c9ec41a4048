import type * as command from "@pulumi/command";
import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerConfig } from "../../config/schema";
import { typeToken } from "../naming";
import { sshConnection } from "../remote";
import { firstContact, remoteStep } from "./remoteStep";
import { BundleEntry, ProvisionStep } from "./steps";

/** A step with what it reads on stdin (rendered files and values; secrets stay Outputs). */
export interface StepWithBundle {
    readonly step: ProvisionStep;
    readonly bundle: pulumi.Input<readonly pulumi.Input<BundleEntry>[]>;
}

export interface ContainerProvisioningArgs {
    readonly container: ContainerConfig;
    /** the container, so the first step waits until it exists and runs */
    readonly guest: proxmoxve.ContainerLegacy;
    /** root's SSH key for the container (its public half is among aiVm.sshPublicKeys) */
    readonly privateKey: pulumi.Input<string>;
    readonly steps: readonly StepWithBundle[];
    /** what must be done to the container before its first step (the CI container's keyctl) */
    readonly after?: readonly pulumi.Resource[];
}

/**
 * The provisioning steps of one service container, over SSH as root. Steps of one
 * container run one after the other (they share apt's lock); containers provision in
 * parallel. A replaced container runs all its steps again (remoteStep's re-run rule).
 */
export class ContainerProvisioning extends pulumi.ComponentResource {
    public readonly commands: readonly command.remote.Command[];
    private readonly stepIds: readonly string[];
    /** the container's SSH host key, read on first contact; every step is pinned to it */
    public readonly hostKey: pulumi.Output<string>;

    constructor(name: string, args: ContainerProvisioningArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("provision", "ContainerProvisioning"), name, {}, opts);
        const target = { host: args.container.ip, user: "root", privateKey: args.privateKey };
        const contact = firstContact(`${name}-host-key`, { target, guest: args.guest }, { parent: this, dependsOn: [args.guest, ...(args.after ?? [])] });
        this.hostKey = contact.hostKey;
        const connection = sshConnection({ ...target, hostKey: this.hostKey });
        const commands: command.remote.Command[] = [];
        for (const { step, bundle } of args.steps) {
            const previous = commands[commands.length - 1];
            commands.push(remoteStep(`${name}-${step.id}`, { connection, step, bundle, guest: args.guest }, { parent: this, dependsOn: previous ?? contact.step }));
        }
        this.commands = commands;
        this.stepIds = args.steps.map((s) => s.step.id);
        this.registerOutputs({ steps: args.steps.map((s) => s.step.description), hostKey: this.hostKey });
    }

    /** the command of one step, by its id */
    public step(id: string): command.remote.Command | undefined {
        const i = this.stepIds.indexOf(id);
        return i < 0 ? undefined : this.commands[i];
    }
}
