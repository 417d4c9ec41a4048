import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import type { HostSecrets } from "../config/load";

/**
 * The one Proxmox provider of an environment, built from validated config. It is passed
 * explicitly (through the environment's `providers`), so nothing falls back to ambient
 * `proxmoxve:*` config or environment variables.
 */
export function proxmoxProvider(name: string, config: Pick<StackConfig, "proxmox" | "hosts">, secrets: HostSecrets, opts: pulumi.CustomResourceOptions): proxmoxve.Provider {
    return new proxmoxve.Provider(name, {
        endpoint: config.proxmox.endpoint,
        ...(config.proxmox.auth === "token"
            ? { apiToken: secrets.proxmoxCredential }
            : { username: config.proxmox.username, password: secrets.proxmoxCredential }),
        insecure: config.proxmox.insecure,
        // Snippet uploads and some disk imports go over SSH to the node.
        ssh: {
            username: config.proxmox.sshUser,
            privateKey: secrets.sshPrivateKey,
            nodes: config.hosts.map((h) => ({ name: h.name, address: h.address, port: config.proxmox.sshPort })),
        },
    }, opts);
}
