/**
 * The names of the host stack's objects, in one place: the host stack creates them under
 * these names and the environment stacks refer to them by the same names (a pool to join,
 * an image to boot, an IP set or security group in a rule), never by a stack reference.
 * Pure; each name is derived from the config that both sides read.
 */
import type { BoxFacts, EnvironmentName } from "../../config/schema";
import type { ContainerRole } from "../../config/schema";

/** `https://.../ubuntu-24.04-server-cloudimg-amd64.img` -> `ubuntu-24.04-server-cloudimg-amd64` */
function fileStem(url: string): string {
    const base = url.split("/").pop() ?? "image";
    return base.replace(/\.(img|qcow2|raw|tar\.zst|tar\.gz|tar\.xz)$/, "");
}

/** File names of the shared downloads on every node's image datastore. */
export function imageFileNames(images: BoxFacts["images"]): { readonly cloudImage: string; readonly lxcTemplate: string } {
    return {
        cloudImage: `${fileStem(images.ubuntuCloud.url)}.qcow2`,
        lxcTemplate: `${fileStem(images.debianTemplate.url)}.tar.zst`,
    };
}

/**
 * Volume ids of the shared downloads, as the provider's download.File reports its id:
 * `<datastore>:<content type>/<file name>` (bpg/terraform-provider-proxmox
 * fwprovider/nodes/resource_download_file.go). The same file name exists on every node.
 */
export function imageFileIds(images: BoxFacts["images"]): { readonly cloudImage: string; readonly lxcTemplate: string } {
    const names = imageFileNames(images);
    return {
        cloudImage: `${images.datastore}:import/${names.cloudImage}`,
        lxcTemplate: `${images.datastore}:vztmpl/${names.lxcTemplate}`,
    };
}

/** The backup job of an environment (its id in /etc/pve/jobs.cfg). */
export function backupJobId(env: EnvironmentName): string {
    return `ai-dualstack-${env}`;
}

/** Cluster IP sets. pve-firewall: names match [A-Za-z][A-Za-z0-9_-]+, at most 64 characters. */
export const IPSETS = {
    /**
     * Proxmox's own name: the node's built-in rules admit the API (8006), SSH (22), VNC,
     * SPICE and migration only from `management` (pve-firewall Firewall.pm,
     * compile_iptables_filter). We fill it with the admin sources and the nodes.
     */
    management: "management",
    /** the admin sources alone: what guests admit SSH and admin UIs from */
    admins: "admin-sources",
    /** the ranges that are not the internet (RFC 1918, CGNAT, link-local) */
    nonInternet: "non-internet",
} as const;

/** The cluster IP set holding an environment's subnet. */
export function subnetIpSet(env: EnvironmentName): string {
    return `${env}-subnet`;
}

/** A rule source or destination naming a cluster IP set (pve-firewall `+dc/<name>`). */
export function clusterIpSetRef(name: string): string {
    return `+dc/${name}`;
}

/** pve-firewall: security group names match [A-Za-z][A-Za-z0-9_-]+ and are at most 18 characters. */
export const MAX_GROUP_NAME = 18;

/** The security group of a service profile in an environment: `private-base`, `public-database`... */
export function securityGroupName(env: EnvironmentName, profile: "base" | "egress" | ContainerRole): string {
    return `${env}-${profile}`;
}
