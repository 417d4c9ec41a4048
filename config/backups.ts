/**
 * Which guests an environment's backup job lists, in one place (the host stack's job and
 * the backup-coverage policy both read it): the AI VM, whose attached data disk is backed
 * up through it (OS disk `backup=0`, data disk `backup=1`), and every container with its
 * data mount point. Never the data holder VM: vzdump would start a paused QEMU on the disk
 * the running AI VM writes.
 */
export function backupVmids(c: { readonly aiVm: { readonly vmid: number }; readonly containers: readonly { readonly vmid: number }[] }): number[] {
    return [c.aiVm.vmid, ...c.containers.map((ct) => ct.vmid)].sort((a, b) => a - b);
}
