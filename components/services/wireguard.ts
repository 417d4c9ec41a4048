/**
 * The WireGuard VPN entry of the private environment, rendered in wg-quick's format
 * (wireguard-tools wg-quick(8)): the server's config and, for peers whose keys the program
 * generates, a ready client config. Keys are base64 Curve25519 keys as `wg genkey` and
 * `wg pubkey` print them; the tests check the derivation against the real `wg pubkey` and
 * let the real `wg` parse the rendered config.
 */
import { createPrivateKey, createPublicKey } from "crypto";

/** PKCS#8 DER header of an X25519 private key (RFC 8410), followed by the 32 key bytes. */
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** The public key `wg pubkey` prints for a private key (X25519 clamps the scalar as wg does). */
export function wireguardPublicKey(privateKey: string): string {
    const raw = Buffer.from(privateKey, "base64");
    if (raw.length !== 32) {
        throw new Error("a WireGuard private key is 32 bytes of base64");
    }
    const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: "der", type: "pkcs8" });
    const spki = createPublicKey(key).export({ format: "der", type: "spki" });
    return spki.subarray(spki.length - 32).toString("base64");
}

export interface WireguardPeer {
    readonly name: string;
    /** the peer's tunnel address */
    readonly address: string;
    readonly publicKey: string;
    readonly presharedKey: string;
}

export interface WireguardServerInput {
    readonly privateKey: string;
    /** the server's tunnel address and prefix, e.g. 10.99.10.1/24 */
    readonly address: string;
    readonly port: number;
    /** the tunnel subnet, masqueraded out of the container's LAN interface */
    readonly tunnelSubnet: string;
    readonly peers: readonly WireguardPeer[];
}

const WIREGUARD_INTERFACE = "wg0";
export const WIREGUARD_CONF = `/etc/wireguard/${WIREGUARD_INTERFACE}.conf`;

/** /etc/wireguard/wg0.conf on the VPN container. */
export function wireguardServerConf(input: WireguardServerInput): string {
    const nat = `ip saddr ${input.tunnelSubnet} oifname "eth0" masquerade`;
    return [
        "# ai-dualstack: written by the provisioning step; edits are overwritten.",
        "[Interface]",
        `Address = ${input.address}`,
        `ListenPort = ${input.port}`,
        `PrivateKey = ${input.privateKey}`,
        // Peers reach the environment through the container's address (no routes needed on the LAN).
        `PostUp = nft add table ip ai-dualstack-vpn; nft add chain ip ai-dualstack-vpn postrouting '{ type nat hook postrouting priority srcnat; }'; nft add rule ip ai-dualstack-vpn postrouting ${nat}`,
        "PostDown = nft delete table ip ai-dualstack-vpn",
        ...input.peers.flatMap((p) => [
            "",
            `# ${p.name}`,
            "[Peer]",
            `PublicKey = ${p.publicKey}`,
            `PresharedKey = ${p.presharedKey}`,
            `AllowedIPs = ${p.address}/32`,
        ]),
        "",
    ].join("\n");
}

export interface WireguardClientInput {
    readonly privateKey: string;
    readonly address: string;
    readonly serverPublicKey: string;
    readonly presharedKey: string;
    /** host:port peers dial */
    readonly endpoint: string;
    /** what the peer routes through the tunnel: the private environment's subnet */
    readonly allowedIps: readonly string[];
    readonly dns?: readonly string[];
}

/** A peer's wg-quick config, for `wg-quick up` or the WireGuard apps' import. */
export function wireguardClientConf(input: WireguardClientInput): string {
    return [
        "[Interface]",
        `PrivateKey = ${input.privateKey}`,
        `Address = ${input.address}/32`,
        ...(input.dns && input.dns.length > 0 ? [`DNS = ${input.dns.join(", ")}`] : []),
        "",
        "[Peer]",
        `PublicKey = ${input.serverPublicKey}`,
        `PresharedKey = ${input.presharedKey}`,
        `Endpoint = ${input.endpoint}`,
        `AllowedIPs = ${input.allowedIps.join(", ")}`,
        "PersistentKeepalive = 25",
        "",
    ].join("\n");
}
