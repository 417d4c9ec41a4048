import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { MirrorDevices } from "../../config/schema";
import { quirkOptions } from "../quirks";
import { typeToken } from "../naming";

export interface ZfsMirrorArgs {
    /** node the two NVMe devices are in */
    readonly node: string;
    /** pool name, also the Proxmox storage id guests' disks use */
    readonly pool: string;
    /** the two devices, by /dev/disk/by-id/ */
    readonly devices: MirrorDevices;
    /** sector size exponent; 12 for 4 KiB NVMe sectors */
    readonly ashift: number;
    readonly compression: string;
}

/**
 * One environment's NVMe mirror as a ZFS pool plus a Proxmox storage entry.
 * It holds the environment's data, so it is protected and survives `pulumi destroy`.
 */
export class ZfsMirror extends pulumi.ComponentResource {
    public readonly pool: proxmoxve.node.disk.Zfs;
    /** Proxmox storage id of the pool: an Output so guests wait for the pool to exist */
    public readonly storageId: pulumi.Output<string>;

    constructor(name: string, args: ZfsMirrorArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "ZfsMirror"), name, {}, opts);
        this.pool = new proxmoxve.node.disk.Zfs(`${name}-pool`, {
            nodeName: args.node,
            name: args.pool,
            raidlevel: "mirror",
            devices: [...args.devices],
            ashift: args.ashift,
            compression: args.compression,
            addStorage: true,
            // Never wipe the disks or drop the storage entry from code: data loss needs a human.
            cleanupDisks: false,
            cleanupConfig: false,
        }, {
            parent: this,
            protect: true,
            retainOnDelete: true,
            ...quirkOptions("zfsPool"),
        });
        this.storageId = this.pool.name;
        this.registerOutputs({ storageId: this.storageId });
    }
}
