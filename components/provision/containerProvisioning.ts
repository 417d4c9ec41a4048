import * as command from "@pulumi/command";
import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { ContainerConfig } from "../../config/schema";
import { typeToken } from "../naming";
import { sshConnection } from "../remote";
import { BundleEntry, bundleText, provisionCommand, ProvisionStep } from "./steps";

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
}

/**
 * The provisioning steps of one service container, over SSH as root. Steps of one
 * container run one after the other (they share apt's lock); containers provision in
 * parallel. A step's bundle goes over stdin and is always a secret.
 */
export class ContainerProvisioning extends pulumi.ComponentResource {
    public readonly commands: readonly command.remote.Command[];

    constructor(name: string, args: ContainerProvisioningArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("provision", "ContainerProvisioning"), name, {}, opts);
        const connection = sshConnection({ host: args.container.ip, user: "root", privateKey: args.privateKey });
        const commands: command.remote.Command[] = [];
        for (const { step, bundle } of args.steps) {
            const previous = commands[commands.length - 1];
            commands.push(new command.remote.Command(`${name}-${step.id}`, {
                connection,
                create: provisionCommand(step.script, step.args),
                // Always secret: a bundle carries passwords, keys and tokens next to plain files.
                stdin: pulumi.secret(pulumi.output(bundle).apply((entries) => bundleText(entries))),
                // The previous run's output would be passed through SSH environment variables,
                // which Debian's sshd refuses (AcceptEnv LANG LC_*); the scripts do not need it.
                addPreviousOutputInEnv: false,
            }, { parent: this, dependsOn: previous ?? args.guest }));
        }
        this.commands = commands;
        this.registerOutputs({ steps: args.steps.map((s) => s.step.description) });
    }
}
