import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { AiVmConfig, EnvironmentName, StackConfig } from "../../config/schema";
import { typeToken } from "../naming";
import { GUEST_TIMEOUTS, quirkInputs, quirkOptions } from "../quirks";

export interface AiVmArgs {
    readonly environment: EnvironmentName;
    readonly vm: AiVmConfig;
    readonly network: StackConfig["network"];
    /** volume id of the host stack's Ubuntu 24.04 cloud image (content type import) on this node */
    readonly imageFileId: pulumi.Input<string>;
    /** the environment's ZFS storage id: an Output, so the VM waits for the pool */
    readonly storageId: pulumi.Input<string>;
    /** the environment's bridge on this VM's node */
    readonly bridge: pulumi.Input<string>;
    /** the environment's PCI mapping name: an Output, so the VM waits for the mapping */
    readonly gpuMapping: pulumi.Input<string>;
    /** the environment's resource pool (host stack): its ACL is what lets the env's token manage the VMs */
    readonly pool: string;
}

/** Where the data disk appears in the guest: the second disk on its own virtio-scsi controller. */
/** the AI VM's config key for its data disk (the holder's volume, attached by path) */
export const DATA_DISK_INTERFACE = "scsi1";
export const DATA_DEVICE = `/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive-${DATA_DISK_INTERFACE}`;
export const DATA_MOUNT = "/srv/ai";

const GiB = 1024;

/**
 * The environment's Ubuntu 24.04 GPU VM that runs its Docker workloads (Ollama, vector
 * store, apps), tuned as in the seed's step 5: q35 + OVMF, CPU `host`, NUMA, ballooning
 * off, hugepages and optional pinning, the GPU through the environment's PCI mapping.
 *
 * Its data disk belongs to a stopped holder VM (protected), attached here by path, so the
 * AI VM itself can be destroyed and rebuilt while models, vectors and documents stay.
 */
export class AiVm extends pulumi.ComponentResource {
    public readonly vm: proxmoxve.VmLegacy;
    /** stopped VM that owns the data disk; protected */
    public readonly dataHolder: proxmoxve.VmLegacy;

    constructor(name: string, args: AiVmArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("compute", "AiVm"), name, {}, opts);
        const { vm, environment: env } = args;
        const tags = ["ai-dualstack", env];

        this.dataHolder = new proxmoxve.VmLegacy(`${name}-data`, {
            nodeName: vm.node,
            vmId: vm.dataVmid,
            poolId: args.pool,
            name: `${vm.name}-data`,
            description: `Holds the data disk of ${vm.name} (ai-dualstack ${env}). Never started; do not delete.`,
            tags: [...tags, "data"],
            started: false,
            onBoot: false,
            // Proxmox-side protection too: the GUI and API refuse to remove it.
            protection: true,
            scsiHardware: "virtio-scsi-single",
            disks: [{
                interface: "scsi0",
                datastoreId: args.storageId,
                size: vm.dataDiskGiB,
                fileFormat: "raw",
                iothread: true,
                discard: "on",
                ssd: true,
                // Backed up through the running AI VM that writes it (its scsi1), never here:
                // vzdump of this stopped holder would start a paused QEMU on a disk the AI VM
                // is writing, a crash-inconsistent copy at best.
                backup: false,
            }],
            ...quirkInputs("vmStopOnDestroy"),
            timeoutCreate: GUEST_TIMEOUTS.create,
        }, {
            parent: this,
            protect: true,
            retainOnDelete: true,
            ...quirkOptions("fixedVmid", "vmDiskSpeed", "vmVga", "dataHolderDiskSize"),
        });
        const dataPath = this.dataHolder.disks.apply((disks) => {
            const path = disks?.[0]?.pathInDatastore;
            if (!path) {
                throw new pulumi.ResourceError(`the data holder VM ${vm.dataVmid} reports no disk path`, this);
            }
            return path;
        });

        this.vm = new proxmoxve.VmLegacy(`${name}-vm`, {
            nodeName: vm.node,
            vmId: vm.vmid,
            poolId: args.pool,
            name: vm.name,
            description: `ai-dualstack ${env} AI VM: Ollama, vector store and apps on the ${env} GPU`,
            tags: [...tags, "gpu"],
            machine: "q35",
            bios: "ovmf",
            // Secure Boot keys would refuse the DKMS-built NVIDIA module.
            efiDisk: { datastoreId: args.storageId, fileFormat: "raw", type: "4m", preEnrolledKeys: false },
            operatingSystem: { type: "l26" },
            // Hugepages, CPU affinity and the boot order are set through the environment's
            // tune key, not here: the environment's token is refused them (quirk vmRootOnlyOptions).
            cpu: {
                type: "host",
                sockets: 1,
                cores: vm.cores,
                numa: true,
            },
            memory: {
                dedicated: vm.memoryGiB * GiB,
                // 0 removes the balloon device: GPU DMA needs all guest RAM pinned anyway.
                floating: 0,
            },
            scsiHardware: "virtio-scsi-single",
            disks: [
                {
                    interface: "scsi0",
                    datastoreId: args.storageId,
                    importFrom: args.imageFileId,
                    size: vm.osDiskGiB,
                    fileFormat: "raw",
                    iothread: true,
                    discard: "on",
                    ssd: true,
                    // Rebuilt from the cloud image and the provisioning steps, so not backed up.
                    backup: false,
                },
                {
                    interface: DATA_DISK_INTERFACE,
                    datastoreId: args.storageId,
                    pathInDatastore: dataPath,
                    size: vm.dataDiskGiB,
                    fileFormat: "raw",
                    iothread: true,
                    discard: "on",
                    ssd: true,
                    // The AI VM's backup job covers this disk although the holder owns it: vzdump
                    // includes every drive in the VM's config with backup=1 and never checks the
                    // volume's owner VMID (qemu-server PVE/QemuConfig.pm get_backup_volumes,
                    // PVE/VZDump/QemuServer.pm prepare).
                    backup: true,
                },
            ],
            hostpcis: [{ device: "hostpci0", mapping: args.gpuMapping, pcie: true, rombar: true }],
            networkDevices: [{ bridge: args.bridge, model: "virtio", firewall: true }],
            initialization: {
                datastoreId: args.storageId,
                interface: "ide2",
                ipConfigs: [{ ipv4: { address: `${vm.ip}/${prefixLength(args.network.subnet)}`, gateway: args.network.gateway } }],
                dns: { servers: [...args.network.dns] },
                // Proxmox's native cloud-init only: user, SSH keys, static IP. Everything else
                // is provisioned over SSH (components/provision), so no snippet and no SSH to
                // the Proxmox node are needed.
                userAccount: { username: vm.user, keys: [...vm.sshPublicKeys] },
            },
            agent: { enabled: true, trim: true },
            onBoot: true,
            // Created stopped: the tune step sets hugepages and affinity (root-only) and then
            // starts it, so it never boots on ordinary RAM next to the host's hugepage
            // reservation (quirk vmStartedByTune).
            started: false,
            // Destroy otherwise waits for a guest shutdown that may never come.
            ...quirkInputs("vmStopOnDestroy"),
            timeoutCreate: GUEST_TIMEOUTS.create,
            timeoutClone: GUEST_TIMEOUTS.clone,
            timeoutStopVm: GUEST_TIMEOUTS.stop,
            timeoutShutdownVm: GUEST_TIMEOUTS.shutdown,
        }, {
            parent: this,
            ...quirkOptions("fixedVmid", "vmDiskSpeed", "vmCloudInit", "vmMappedHostpci", "vmVga", "vmRootOnlyOptions", "vmStartedByTune", "dataDiskSize"),
        });

        this.registerOutputs({ vmId: vm.vmid, dataVmId: vm.dataVmid, ip: vm.ip });
    }
}

export function prefixLength(cidr: string): number {
    return Number(cidr.split("/")[1]);
}
