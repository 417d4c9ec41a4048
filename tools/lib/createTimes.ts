/**
 * Typical create times per resource type, the one table the plan's rebuild estimate reads
 * (critical path and sum, see graphMetrics.ts). These are estimates for a healthy single
 * node on a home network, not measurements of this project on a real host (none was run);
 * each row says what it rests on. The provider's default timeouts are upper bounds, read in
 * bpg/terraform-provider-proxmox (the provider behind @muhlba91/pulumi-proxmoxve):
 *   - VM create/clone/start: 1800 s, guest agent wait 15 min (proxmoxtf/resource/vm/vm.go,
 *     dvTimeoutCreate, dvTimeoutStartVM, dvAgentTimeout);
 *   - container create: 1800 s (proxmoxtf/resource/container/container.go, dvTimeoutCreate);
 *   - download.File: 600 s (fwprovider/nodes/resource_download_file.go, upload_timeout);
 *   - network reload after a bridge/VLAN change: 100 s (fwprovider/nodes/network, timeout_reload).
 * A type not in the table counts as UNKNOWN_TYPE_SECONDS and the summary says which.
 */
export interface CreateTime {
    /** typical seconds from create call to ready */
    readonly seconds: number;
    /** typical seconds when the guest is created but not started (`started: false`: a data holder) */
    readonly notStartedSeconds?: number;
    /** what the figure rests on */
    readonly basis: string;
}

export const CREATE_TIMES: Readonly<Record<string, CreateTime>> = {
    "pulumi:providers:proxmoxve": { seconds: 0, basis: "no API call: the provider is configured in-process" },
    "pulumi:providers:command": { seconds: 0, basis: "no API call" },
    "pulumi:providers:docker": { seconds: 2, basis: "dials the Docker host over SSH once (pulumi-docker#1293)" },
    "pulumi:providers:random": { seconds: 0, basis: "no API call" },
    "random:index/randomPassword:RandomPassword": { seconds: 0, basis: "computed in the provider, no remote call" },
    "random:index/randomBytes:RandomBytes": { seconds: 0, basis: "computed in the provider (WireGuard keys), no remote call" },
    "proxmoxve:download/file:File": {
        seconds: 90,
        basis: "the node downloads the image itself: a ~600 MB Ubuntu cloud image at ~60 Mbit/s (a Debian LXC template, ~120 MB, is faster); bpg upload_timeout default 600 s",
    },
    "proxmoxve:index/fileLegacy:FileLegacy": { seconds: 5, basis: "snippet upload over SSH (bpg docs: snippets need SSH), one small file" },
    "proxmoxve:index/vmLegacy:VmLegacy": {
        seconds: 180,
        notStartedSeconds: 20,
        basis: "not started (a data holder): allocate its disks only. Started: import of the cloud image into the pool, create, start and wait for the guest agent to report an IP; bpg#2079 shows a cloud-init VM still creating after 110 s; bpg timeout_create 1800 s",
    },
    "proxmoxve:index/containerLegacy:ContainerLegacy": { seconds: 40, notStartedSeconds: 30, basis: "pct create from a local template (unpack ~120 MB) and start; bpg container timeout_create 1800 s" },
    "proxmoxve:node/disk/zfs:Zfs": { seconds: 15, basis: "zpool create on two empty NVMe drives plus storage registration (pve-storage API2/Disks/ZFS.pm)" },
    "proxmoxve:hardware/mapping/pci:Pci": { seconds: 2, basis: "one cluster config write (/etc/pve/mapping/pci.cfg)" },
    "proxmoxve:network/linux/bridge:Bridge": { seconds: 10, basis: "interfaces change plus ifreload; bpg timeout_reload default 100 s" },
    "proxmoxve:network/linux/vlan:Vlan": { seconds: 10, basis: "interfaces change plus ifreload; bpg timeout_reload default 100 s" },
    "command:remote:Command": {
        seconds: 90,
        basis: "host preparation over SSH: update-initramfs and proxmox-boot-tool refresh for every installed kernel (components/host/scripts)",
    },
    "proxmoxve:firewall/optionsLegacy:OptionsLegacy": { seconds: 2, basis: "one API write of the guest's .fw file" },
    "proxmoxve:firewall/rulesLegacy:RulesLegacy": { seconds: 2, basis: "one API write per rule set" },
    "proxmoxve:cluster/firewallLegacy:FirewallLegacy": { seconds: 2, basis: "one API write of cluster.fw" },
    "proxmoxve:backup/job:Job": { seconds: 2, basis: "one API write of jobs.cfg" },
    "proxmoxve:firewall/ipsetLegacy:IpsetLegacy": { seconds: 2, basis: "one API write per IP set entry (pve-firewall API2/Firewall/IPSet.pm)" },
    "proxmoxve:firewall/aliasLegacy:AliasLegacy": { seconds: 1, basis: "one API write of cluster.fw" },
    "proxmoxve:cluster/firewall/security/groupLegacy:GroupLegacy": { seconds: 2, basis: "one API write of cluster.fw per group and its rules" },
    "proxmoxve:node/firewall:Firewall": { seconds: 1, basis: "one API write of the node's host.fw options" },
    "proxmoxve:index/poolLegacy:PoolLegacy": { seconds: 1, basis: "one write of /etc/pve/user.cfg (pve-manager API2/Pool.pm)" },
    "proxmoxve:pool/membershipLegacy:MembershipLegacy": { seconds: 1, basis: "one write of /etc/pve/user.cfg" },
    "proxmoxve:index/userLegacy:UserLegacy": { seconds: 1, basis: "one write of /etc/pve/user.cfg (pve-access-control API2/User.pm)" },
    "proxmoxve:index/roleLegacy:RoleLegacy": { seconds: 1, basis: "one write of /etc/pve/user.cfg" },
    "proxmoxve:user/token:Token": { seconds: 1, basis: "one write of /etc/pve/user.cfg and priv/token.cfg" },
    "proxmoxve:index/acl:Acl": { seconds: 1, basis: "one write of /etc/pve/user.cfg (pve-access-control API2/ACL.pm)" },
    "tls:index/privateKey:PrivateKey": { seconds: 0, basis: "generated in the provider, no remote call" },
    "pulumi:providers:tls": { seconds: 0, basis: "no API call" },
    "docker:index/container:Container": { seconds: 30, basis: "start of a container whose image is already pulled, plus its health wait" },
    "docker:index/remoteImage:RemoteImage": { seconds: 120, basis: "pull of a multi-GB image (Ollama ~3 GB) at ~200 Mbit/s" },
    "docker:index/image:Image": { seconds: 480, basis: "the RAG workbench build on the VM: a Jupyter base image plus pip installs of LangChain, LlamaIndex and CrewAI (~2 GB of wheels) at ~200 Mbit/s; an estimate, not timed" },
    "docker:index/network:Network": { seconds: 2, basis: "docker network create: a local bridge, no download; an estimate" },
};

/** What a type with no row in the table counts as. */
export const UNKNOWN_TYPE_SECONDS = 10;

/** A resource's estimated create time from its type (and whether the guest is started). */
export function createSeconds(resource: { readonly type: string; readonly inputs: { readonly [key: string]: unknown } }): number {
    const row = CREATE_TIMES[resource.type];
    if (row === undefined) {
        return UNKNOWN_TYPE_SECONDS;
    }
    return resource.inputs.started === false && row.notStartedSeconds !== undefined ? row.notStartedSeconds : row.seconds;
}
