import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { AiVmConfig, GpuConfig } from "../../config/schema";
import { DATA_DEVICE, DATA_MOUNT } from "../compute/aiVm";
import { DATA_LABEL } from "./constants";
import { typeToken } from "../naming";
import { sshConnection } from "../remote";
import { IMAGES } from "../workloads/images";
import { firstContact, remoteStep } from "./remoteStep";
import { aptKeyBundle, GuestScript } from "./steps";

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

        const contact = firstContact(`${name}-host-key`, {
            target: { ...target, ...(args.hostKey !== undefined ? { hostKey: args.hostKey } : {}) },
            guest: args.guest,
            waitForCloudInit: true,
        }, { parent: this, dependsOn: [...(args.after ?? [])] });
        this.hostKeyStep = contact.step;
        this.hostKey = contact.hostKey;
        const pinned = sshConnection({ ...target, hostKey: this.hostKey });

        const step = (id: string, script: GuestScript, stepArgs: readonly string[], description: string) => ({ id, script, args: stepArgs, description });
        this.dataDisk = remoteStep(`${name}-data-disk`, {
            connection: pinned, sudo, guest: args.guest,
            step: step("data-disk", "data-disk.sh", [DATA_DEVICE, DATA_MOUNT, DATA_LABEL, ...args.dataDirs], "data disk mounted (formatted only when blank)"),
            // A new dataDiskGiB (after `qm resize`, README "Data safety") re-runs it to grow the filesystem.
            alsoOn: [vm.dataDiskGiB],
        }, { parent: this, dependsOn: [this.hostKeyStep] });

        this.dockerGpu = remoteStep(`${name}-docker-gpu`, {
            connection: pinned, sudo, guest: args.guest,
            // The VM's own user joins the docker group: the Docker provider talks to Docker as it.
            step: step("docker-gpu", "docker-gpu.sh", [vm.nvidiaDriver, DATA_MOUNT, vm.user], "Docker, NVIDIA driver and container toolkit"),
            // The apt signing keys are files of the bundle, like every step's inputs.
            bundle: aptKeyBundle(),
        }, { parent: this, dependsOn: [this.dataDisk], customTimeouts: { create: "60m", update: "60m" } });

        this.verify = remoteStep(`${name}-verify`, {
            // As the VM's own user, without sudo: the Docker provider talks to Docker as this
            // user, so this proves the socket is reachable for it (docker group).
            connection: pinned, sudo: false, guest: args.guest,
            step: step("verify", "verify.sh", [args.gpu.model, IMAGES.gpuCheck], "a GPU container sees the card"),
            // Re-checked whenever the installation step is replaced too.
            alsoAfter: [this.dockerGpu],
        }, { parent: this, dependsOn: [this.dockerGpu] });
        this.verified = this.verify.stdout;

        this.registerOutputs({ hostKey: this.hostKey, verified: this.verified });
    }
}
