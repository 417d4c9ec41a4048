import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { AiVmConfig, GpuConfig } from "../../config/schema";
import { DATA_DEVICE, DATA_MOUNT } from "../compute/aiVm";
import { DATA_LABEL } from "./constants";
import { typeToken } from "../naming";
import { sshConnection } from "../remote";
import { IMAGES } from "../workloads/images";
import { aptKeyText, guestScriptCommand } from "./steps";

export interface AiVmProvisioningArgs {
    readonly vm: AiVmConfig;
    readonly gpu: GpuConfig;
    /** the running AI VM: every step re-runs when it is replaced */
    readonly guest: pulumi.CustomResource;
    /** private key matching one of aiVm.sshPublicKeys (a secret) */
    readonly privateKey: pulumi.Input<string>;
    /**
     * the VM's SSH host key (`ssh-ed25519 AAAA...`) when known. Proxmox's native cloud-init
     * cannot set a host key (qemu-server PVE/QemuServer/Cloudinit.pm writes only hostname,
     * user, password, ssh_authorized_keys), so a fresh VM's key is unknown: without this the
     * first step trusts the key it is shown (trust on first use) and every later step and
     * the Docker provider are pinned to that key.
     */
    readonly hostKey?: pulumi.Input<string>;
    /** directories under the data mount the workloads keep data in */
    readonly dataDirs: readonly string[];
    /** what must have happened before the first SSH contact (the tune step starts the VM) */
    readonly after?: readonly pulumi.Resource[];
}

/**
 * Provisions the AI VM over SSH, in order: read its host key, mount the data disk (a
 * filesystem only on a blank disk), install Docker + the NVIDIA driver + the container
 * toolkit (driver loaded without a reboot), then verify that a GPU container sees the card.
 * Each step is an idempotent script from components/provision/scripts; its command embeds
 * the script and its arguments, so editing either re-runs just that step.
 */
export class AiVmProvisioning extends pulumi.ComponentResource {
    public readonly hostKeyStep: command.remote.Command;
    public readonly dataDisk: command.remote.Command;
    public readonly dockerGpu: command.remote.Command;
    public readonly verify: command.remote.Command;
    /** the host key every step after the first is pinned to */
    public readonly hostKey: pulumi.Output<string>;
    /** the verify step's report; resolves only once the VM can run GPU containers */
    public readonly verified: pulumi.Output<string>;

    constructor(name: string, args: AiVmProvisioningArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("compute", "AiVmProvisioning"), name, {}, opts);
        const { vm } = args;
        const sudo = vm.user !== "root";
        const target = { host: vm.ip, user: vm.user, privateKey: args.privateKey };
        const triggers = [args.guest.id];

        this.hostKeyStep = new command.remote.Command(`${name}-host-key`, {
            connection: sshConnection({ ...target, ...(args.hostKey !== undefined ? { hostKey: args.hostKey } : {}) }),
            // cloud-init has finished (users, keys, network) before anything is installed.
            create: "cloud-init status --wait >/dev/null 2>&1 || true; cat /etc/ssh/ssh_host_ed25519_key.pub",
            triggers,
        }, { parent: this, dependsOn: [...(args.after ?? [])] });
        this.hostKey = args.hostKey !== undefined
            ? pulumi.output(args.hostKey)
            : this.hostKeyStep.stdout.apply((out) => hostKeyLine(out));
        const pinned = sshConnection({ ...target, hostKey: this.hostKey });

        this.dataDisk = new command.remote.Command(`${name}-data-disk`, {
            connection: pinned,
            create: guestScriptCommand("data-disk.sh", [DATA_DEVICE, DATA_MOUNT, DATA_LABEL, ...args.dataDirs], sudo),
            // A new dataDiskGiB (after `qm resize`, README "Data safety") re-runs it to grow the filesystem.
            triggers: [...triggers, vm.dataDiskGiB],
        }, { parent: this, dependsOn: [this.hostKeyStep] });

        this.dockerGpu = new command.remote.Command(`${name}-docker-gpu`, {
            connection: pinned,
            create: guestScriptCommand("docker-gpu.sh", [
                vm.nvidiaDriver,
                DATA_MOUNT,
                Buffer.from(aptKeyText("docker")).toString("base64"),
                Buffer.from(aptKeyText("nvidiaContainerToolkit")).toString("base64"),
                vm.user,
            ], sudo),
            triggers,
        }, { parent: this, dependsOn: [this.dataDisk], customTimeouts: { create: "60m", update: "60m" } });

        this.verify = new command.remote.Command(`${name}-verify`, {
            connection: pinned,
            // As the VM's own user, without sudo: the Docker provider talks to Docker as this
            // user, so this proves the socket is reachable for it (docker group).
            create: guestScriptCommand("verify.sh", [args.gpu.model, IMAGES.gpuCheck], false),
            // Re-checked whenever the installation step ran again.
            triggers: [...triggers, this.dockerGpu.id],
        }, { parent: this, dependsOn: [this.dockerGpu] });
        this.verified = this.verify.stdout;

        this.registerOutputs({ hostKey: this.hostKey, verified: this.verified });
    }
}

/** `ssh-ed25519 AAAA... root@host\n` -> `ssh-ed25519 AAAA...` (what a pinned connection takes). */
export function hostKeyLine(output: string): string {
    const line = output.trim().split("\n").pop() ?? "";
    const [type, key] = line.split(/\s+/);
    if (!type || !key || !/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa)$/.test(type)) {
        throw new Error(`the AI VM did not report an SSH host key, got ${JSON.stringify(line.slice(0, 80))}`);
    }
    return `${type} ${key}`;
}
