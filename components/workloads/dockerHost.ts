import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { typeToken } from "../naming";

export interface DockerHostArgs {
    readonly environment: string;
    readonly user: string;
    readonly ip: string;
    /**
     * resolves only when the VM is ready (the provisioning verify step's output): the
     * provider's host is derived from it, so it stays unknown until then
     */
    readonly ready: pulumi.Output<string>;
    /** the VM's SSH host key (`ssh-ed25519 AAAA...`): ssh refuses any other */
    readonly hostKey: pulumi.Input<string>;
    /** the private key file ssh uses on the machine running Pulumi; unset: ssh agent / defaults */
    readonly identityFile?: string;
}

/**
 * The Docker engine of an AI VM as a Pulumi provider, over `ssh://user@ip`, plus the
 * environment's Docker network.
 *
 * The provider's `host` is an Output of the provisioning verify step (QUIRKS.dockerDialsHost), so on a fresh stack
 * it is unknown during preview and no Docker call is made to a VM that does not exist yet
 * (pulumi-docker#1293: the Terraform-based resources ping the daemon when they first use
 * the client; the native part skips the ping for ssh:// hosts, pulumi-docker
 * provider/image.go configureDockerClient). The docker CLI's connection helper runs the
 * system `ssh` with `sshOpts` (docker/cli connhelper); the host key is pinned with
 * `KnownHostsCommand` (OpenSSH >= 8.5 on the machine running Pulumi), so no known_hosts
 * file has to exist there.
 */
export class DockerHost extends pulumi.ComponentResource {
    public readonly provider: docker.Provider;
    public readonly network: docker.Network;
    /** the provider's host, once the VM is ready */
    public readonly host: pulumi.Output<string>;

    constructor(name: string, args: DockerHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("workloads", "DockerHost"), name, {}, opts);
        this.host = args.ready.apply(() => dockerSshHost(args.user, args.ip));
        this.provider = new docker.Provider(`${name}-docker`, {
            host: this.host,
            sshOpts: pulumi.output(args.hostKey).apply((key) => dockerSshOpts(key, args.identityFile)),
        }, { parent: this });
        this.network = new docker.Network(`${name}-network`, {
            name: `${args.environment}-ai`,
            driver: "bridge",
            labels: [{ label: "ai-dualstack.environment", value: args.environment }],
        }, { parent: this, provider: this.provider });
        this.registerOutputs({ host: this.host });
    }
}

function dockerSshHost(user: string, ip: string): string {
    return `ssh://${user}@${ip}:22`;
}

/** ssh options for the Docker provider: only the given host key is accepted. */
export function dockerSshOpts(hostKey: string, identityFile?: string): string[] {
    if (!/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+$/.test(hostKey)) {
        throw new Error(`not an SSH host key line: ${JSON.stringify(hostKey.slice(0, 40))}`);
    }
    return [
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "GlobalKnownHostsFile=/dev/null",
        // %H is the host name ssh looks up, so the printed line always matches it.
        "-o", `KnownHostsCommand=/bin/echo %H ${hostKey}`,
        "-o", "ConnectTimeout=15",
        "-o", "ServerAliveInterval=30",
        ...(identityFile !== undefined ? ["-i", identityFile, "-o", "IdentitiesOnly=yes"] : []),
    ];
}
