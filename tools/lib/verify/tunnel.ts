/**
 * Services published only on the AI VM's loopback (Chroma: no auth of its own, so not on the
 * subnet) are reached through an SSH port forward to the VM, with its pinned host key.
 * A stack output URL on 127.0.0.1 means "on the AI VM itself".
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { knownHostsLine, pinnedSshOptions } from "./isolation";

export interface TunnelTarget {
    /** the AI VM's address and SSH user */
    readonly host: string;
    readonly user: string;
    /** its pinned host key (`ssh-ed25519 AAAA...`) */
    readonly hostKey: string;
    /** the OpenSSH private key (the stack's sshPrivateKey) */
    readonly privateKey: string;
    /** the port on the VM's loopback */
    readonly remotePort: number;
}

export interface Tunnel {
    /** the local port that forwards to the VM's loopback port */
    readonly localPort: number;
    close(): void;
}

export type OpenTunnel = (target: TunnelTarget) => Promise<Tunnel>;

/** True when a stack output URL points at the AI VM's own loopback. */
export function onVmLoopback(url: string): boolean {
    return new URL(url).hostname === "127.0.0.1";
}

/** The same URL on the local end of a tunnel. */
export function throughTunnel(url: string, localPort: number): string {
    const u = new URL(url);
    u.port = String(localPort);
    return u.toString().replace(/\/$/, "");
}

/** ssh arguments of the forward: pinned key only, no prompts, no agent, fail if it cannot forward. */
export function tunnelArgs(target: TunnelTarget, localPort: number, knownHostsFile: string, identityFile: string): string[] {
    return [
        "-N",
        "-o", "ExitOnForwardFailure=yes",
        ...pinnedSshOptions(knownHostsFile, identityFile),
        "-L", `127.0.0.1:${localPort}:127.0.0.1:${target.remotePort}`,
        "-l", target.user,
        target.host,
    ];
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

async function accepts(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("connect", () => { socket.destroy(); resolve(true); });
        socket.once("error", () => resolve(false));
    });
}

/** The real forward: `ssh -N -L`, ready once its local port accepts connections (at most 20 s). */
export const sshTunnel: OpenTunnel = async (target) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai-dualstack-tunnel-"));
    const knownHosts = path.join(dir, "known_hosts");
    const identity = path.join(dir, "id");
    fs.writeFileSync(knownHosts, `${knownHostsLine(target.host, 22, target.hostKey)}\n`, { mode: 0o600 });
    fs.writeFileSync(identity, target.privateKey.endsWith("\n") ? target.privateKey : `${target.privateKey}\n`, { mode: 0o600 });
    const localPort = await freePort();
    const child = spawn("ssh", tunnelArgs(target, localPort, knownHosts, identity), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => { stderr += b.toString("utf8"); });
    const close = () => {
        child.kill("SIGTERM");
        fs.rmSync(dir, { recursive: true, force: true });
    };
    for (let waited = 0; waited < 20_000; waited += 250) {
        if (child.exitCode !== null) {
            close();
            throw new Error(`ssh to ${target.user}@${target.host} could not forward port ${target.remotePort}: ${stderr.trim() || `exit ${child.exitCode}`}`);
        }
        if (await accepts(localPort)) {
            return { localPort, close };
        }
        await new Promise((r) => setTimeout(r, 250));
    }
    close();
    throw new Error(`ssh to ${target.user}@${target.host} did not open its forward within 20 s`);
};
