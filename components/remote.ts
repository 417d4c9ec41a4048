import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

/** Where a remote command connects: a Proxmox node or a guest, always with its host key pinned. */
export interface SshTarget {
    /** address (may be an Output: a guest's address once it is ready) */
    readonly host: pulumi.Input<string>;
    readonly user: string;
    readonly port?: number;
    /** the private key, a secret */
    readonly privateKey: pulumi.Input<string>;
    /**
     * the server's public host key (`ssh-ed25519 AAAA...`); when set, a server presenting
     * another key is refused instead of silently trusted
     */
    readonly hostKey?: pulumi.Input<string>;
}

/**
 * The one way this program builds an SSH connection for `@pulumi/command` remote
 * commands, so host-key pinning and timeouts are decided in one place.
 */
export function sshConnection(target: SshTarget): command.types.input.remote.ConnectionArgs {
    return {
        host: target.host,
        port: target.port ?? 22,
        user: target.user,
        privateKey: pulumi.secret(target.privateKey),
        ...(target.hostKey !== undefined ? { hostKey: target.hostKey } : {}),
        // A guest that was just started takes a while to accept SSH.
        dialErrorLimit: 30,
        perDialTimeout: 10,
    };
}

/** The heredoc marker of `heredocCommand`: a script must not contain it. */
const SCRIPT_END_MARKER = "AI_DUALSTACK_SCRIPT_END";

/**
 * A remote command that feeds a script to bash on stdin (nothing is left behind on the
 * target), with its arguments quoted. The script text is part of the command, so a changed
 * script is a changed command.
 */
export function heredocCommand(name: string, body: string, argv: string, sudo: boolean): string {
    if (body.includes(SCRIPT_END_MARKER)) {
        throw new Error(`${name} must not contain the heredoc marker ${SCRIPT_END_MARKER}`);
    }
    return `${sudo ? "sudo " : ""}bash -s -- ${argv} <<'${SCRIPT_END_MARKER}'\n${body}${body.endsWith("\n") ? "" : "\n"}${SCRIPT_END_MARKER}`;
}
