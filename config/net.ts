/**
 * Small IPv4 helpers for config validation. Pure functions, no Pulumi.
 */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(value: string): boolean {
    return IPV4.test(value);
}

export function ipv4ToInt(value: string): number {
    return value.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export interface Cidr {
    readonly network: number;
    readonly prefix: number;
    /** number of addresses in the block */
    readonly size: number;
}

/** Parses "10.10.0.0/24"; undefined when the text is not a CIDR block whose host bits are zero. */
export function parseCidr(value: string): Cidr | undefined {
    const match = /^([^/]+)\/(\d{1,2})$/.exec(value);
    if (!match || !isIpv4(match[1])) {
        return undefined;
    }
    const prefix = Number(match[2]);
    if (prefix < 8 || prefix > 30) {
        return undefined;
    }
    const size = 2 ** (32 - prefix);
    const network = ipv4ToInt(match[1]);
    if (network % size !== 0) {
        return undefined;
    }
    return { network, prefix, size };
}

/** True when ip is a usable host address of the block (not its network or broadcast address). */
export function isHostInCidr(ip: string, cidr: Cidr): boolean {
    if (!isIpv4(ip)) {
        return false;
    }
    const n = ipv4ToInt(ip);
    return n > cidr.network && n < cidr.network + cidr.size - 1;
}
