/**
 * The URN model: the URN the Pulumi engine gives each registered resource, and the check
 * that no two resources share one (the engine would refuse the second).
 */
import type * as pulumi from "@pulumi/pulumi";

/** What a URN is made of: the resource's type and name, and its parent's. */
interface Registered {
    readonly resource: pulumi.Resource;
    readonly type: string;
    readonly name: string;
    readonly opts: { readonly parent?: pulumi.Resource };
}

/**
 * URNs as the Pulumi engine forms them: the parent's whole qualified type chain, then the
 * type. (The mock monitor keeps only the immediate parent's type, which is not what a real
 * stack records, so pinned URNs are computed here.)
 */
export function engineUrns(captured: readonly Registered[], stack: string): Map<pulumi.Resource, string> {
    const byResource = new Map(captured.map((c) => [c.resource, c]));
    const qualified = new Map<pulumi.Resource, string>();
    const qualifiedType = (c: Registered): string => {
        let q = qualified.get(c.resource);
        if (q === undefined) {
            const parent = c.opts.parent ? byResource.get(c.opts.parent) : undefined;
            q = parent ? `${qualifiedType(parent)}$${c.type}` : c.type;
            qualified.set(c.resource, q);
        }
        return q;
    };
    return new Map(captured.map((c) => [c.resource, `urn:pulumi:${stack}::ai-dualstack::${qualifiedType(c)}::${c.name}`]));
}

/** URNs registered more than once, sorted: the Pulumi engine refuses the second registration. */
export function duplicateUrns(urns: readonly string[]): string[] {
    const seen = new Set<string>();
    const twice = new Set<string>();
    for (const urn of urns) {
        (seen.has(urn) ? twice : seen).add(urn);
    }
    return [...twice].sort();
}

/** The program registers two resources under one URN: `pulumi up` would stop at the second. */
export class DuplicateUrnError extends Error {
    constructor(public readonly urns: readonly string[]) {
        super(urns.map((u) => `duplicate resource URN ${u}: the Pulumi engine refuses a second resource with the same type and name; give the guests behind it distinct names`).join("\n"));
        this.name = "DuplicateUrnError";
    }
}
