import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { typeToken } from "../naming";

/** The monitoring container's Proxmox identity: tokens only, no password, no Linux account. */
export const MONITORING_USER = "ai-dualstack-monitoring@pve";
export const MONITORING_TOKEN_NAME = "metrics";
/**
 * Proxmox's built-in read-only role (pve-access-control PVE/AccessControl.pm
 * `create_roles`: the `.Audit` privileges only, see privileges.ts). prometheus-pve-exporter's README ("Proxmox VE Configuration")
 * asks for a PVEAuditor user on `/`.
 */
export const AUDITOR_ROLE = "PVEAuditor";
/** Proxmox's built-in role without privileges (pve-access-control AccessControl.pm `create_roles`) */
export const NO_ACCESS_ROLE = "NoAccess";

/**
 * The read-only identity Prometheus scrapes Proxmox with (prometheus-pve-exporter in the
 * monitoring container): a user and a privilege-separated token `metrics`, each with
 * PVEAuditor on `/`, propagated, so the exporter sees every node, guest and storage of the
 * box. A privilege-separated token gets the intersection of its own ACLs and its user's
 * (pve-access-control RPCEnvironment.pm), so both carry the same ACL. Nothing it holds can
 * change anything: PVEAuditor has no Modify/Allocate/PowerMgmt privilege.
 */
export class MonitoringAccess extends pulumi.ComponentResource {
    public readonly userId: string;
    /** `ai-dualstack-monitoring@pve!metrics=<uuid>`, the private stack's pveAuditToken: a secret */
    public readonly apiToken: pulumi.Output<string>;

    constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "MonitoringAccess"), name, {}, opts);
        this.userId = MONITORING_USER;
        const child = { parent: this };
        const user = new proxmoxve.UserLegacy(`${name}-user`, {
            userId: this.userId,
            comment: "ai-dualstack monitoring: read-only (PVEAuditor) API token for prometheus-pve-exporter",
            enabled: true,
        }, child);
        const token = new proxmoxve.user.Token(`${name}-token`, {
            userId: user.userId,
            tokenName: MONITORING_TOKEN_NAME,
            comment: "prometheus-pve-exporter in the private monitoring container",
            privilegesSeparation: true,
        }, child);
        this.apiToken = pulumi.secret(token.value);
        new proxmoxve.Acl(`${name}-acl-user`, { path: "/", roleId: AUDITOR_ROLE, userId: user.userId, propagate: true }, child);
        new proxmoxve.Acl(`${name}-acl-token`, { path: "/", roleId: AUDITOR_ROLE, tokenId: token.id, propagate: true }, child);
        // Nothing under /access: PVEAuditor's Sys.Audit there would list every user, token
        // and ACL of the box (pve-access-control src/PVE/API2/ACL.pm read_acl, API2/User.pm
        // index), which the exporter never reads. An ACL on a deeper path replaces what
        // propagates from above (AccessControl.pm `roles`: "overwrite previous settings").
        new proxmoxve.Acl(`${name}-noaccess-user`, { path: "/access", roleId: NO_ACCESS_ROLE, userId: user.userId, propagate: true }, child);
        new proxmoxve.Acl(`${name}-noaccess-token`, { path: "/access", roleId: NO_ACCESS_ROLE, tokenId: token.id, propagate: true }, child);
        this.registerOutputs({ userId: this.userId, apiToken: this.apiToken });
    }
}
