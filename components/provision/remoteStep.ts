import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { sshConnection, SshTarget } from "../remote";
import { BundleEntry, bundleText, provisionCommand, ProvisionStep } from "./steps";

export interface RemoteStepArgs {
    /** from sshConnection() */
    readonly connection: command.types.input.remote.ConnectionArgs;
    readonly step: ProvisionStep;
    /** what the script reads on stdin (files and values; secrets stay Outputs); none: an empty bundle */
    readonly bundle?: pulumi.Input<readonly pulumi.Input<BundleEntry>[]>;
    /** the guest the step runs on: a replaced guest (new id) runs every step again */
    readonly guest: pulumi.CustomResource;
    /** further resources whose replacement re-runs this step */
    readonly alsoAfter?: readonly pulumi.CustomResource[];
    /** further values whose change re-runs this step (a config value the script does not take as an argument) */
    readonly alsoOn?: readonly pulumi.Input<string | number>[];
    /** the AI VM's login user is not root */
    readonly sudo?: boolean;
}

/**
 * The one way a provisioning step becomes a resource, for the AI VM and the containers:
 * the command from provisionCommand(), the bundle on stdin (always a secret), and the
 * re-run rule of steps.ts (command or bundle changed, or the guest replaced).
 */
export function remoteStep(name: string, args: RemoteStepArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const bundle = args.bundle ?? [];
    return new command.remote.Command(name, {
        connection: args.connection,
        create: provisionCommand(args.step.script, args.step.args, { sudo: args.sudo ?? false }),
        // Always secret: a bundle carries passwords, keys and tokens next to plain files.
        stdin: pulumi.secret(pulumi.output(bundle).apply((entries) => bundleText(entries))),
        triggers: [args.guest.id, ...(args.alsoAfter ?? []).map((r) => r.id), ...(args.alsoOn ?? [])],
        // The previous run's output would be passed through SSH environment variables,
        // which Debian's and Ubuntu's sshd refuse (AcceptEnv LANG LC_*); no script needs it.
        addPreviousOutputInEnv: false,
    }, opts);
}

export interface FirstContactArgs {
    /** address, user and key; hostKey when already known (then it is checked, not learnt) */
    readonly target: SshTarget;
    /** the guest: a replaced guest has new host keys, so they are read again */
    readonly guest: pulumi.CustomResource;
    /** the AI VM: wait until cloud-init has written users, keys and network */
    readonly waitForCloudInit?: boolean;
}

/**
 * The first contact with a new guest, the same for the AI VM and the containers: read its
 * ed25519 host key (trust on first use) so that every later step is pinned to it. Neither
 * guest kind can be handed a host key through the API: qemu-server's native cloud-init
 * writes none (PVE/QemuServer/Cloudinit.pm), and pve-container generates fresh keys when it
 * creates a container (src/PVE/LXC/Setup.pm post_create_hook -> rewrite_ssh_host_keys).
 */
export function firstContact(name: string, args: FirstContactArgs, opts: pulumi.CustomResourceOptions): { step: command.remote.Command; hostKey: pulumi.Output<string> } {
    const read = "cat /etc/ssh/ssh_host_ed25519_key.pub";
    const step = new command.remote.Command(name, {
        connection: sshConnection(args.target),
        create: args.waitForCloudInit ? `cloud-init status --wait >/dev/null 2>&1 || true; ${read}` : read,
        // The same re-run rule as every step: a replaced guest is read again.
        triggers: [args.guest.id],
        addPreviousOutputInEnv: false,
    }, opts);
    const hostKey = args.target.hostKey !== undefined
        ? pulumi.output(args.target.hostKey)
        : step.stdout.apply((out) => hostKeyLine(out));
    return { step, hostKey };
}

/** `ssh-ed25519 AAAA... root@host\n` -> `ssh-ed25519 AAAA...` (what a pinned connection takes). */
export function hostKeyLine(output: string): string {
    const line = output.trim().split("\n").pop() ?? "";
    const [type, key] = line.split(/\s+/);
    if (!type || !key || !/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa)$/.test(type)) {
        throw new Error(`the guest did not report an SSH host key, got ${JSON.stringify(line.slice(0, 80))}`);
    }
    return `${type} ${key}`;
}
