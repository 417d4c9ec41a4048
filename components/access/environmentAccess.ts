import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { EnvironmentName } from "../../config/schema";
import { typeToken } from "../naming";
import { environmentAuditGrants, environmentGrants, EnvironmentScope, forPveMajor } from "./privileges";

export interface EnvironmentAccessArgs {
    readonly environment: EnvironmentName;
    /** the environment's pool, storage, shared image storage, bridge and GPU mapping */
    readonly scope: EnvironmentScope;
    /** major version of Proxmox VE on the nodes: privilege names differ between 8 and 9 */
    readonly pveMajor: 8 | 9;
    /** also create a read-only token (PVEAuditor privileges on the same paths) for previews and drift */
    readonly auditToken?: boolean;
}

/** The Pulumi user realm for the environments' API users: no Linux account, no password, tokens only. */
const ENV_USER_REALM = "pve";

/** `ai-dualstack-private@pve` */
const environmentUser = (env: EnvironmentName): string => `ai-dualstack-${env}@${ENV_USER_REALM}`;

/** The kind of ACL path, for role names: `/pool/x` -> pool, `/sdn/zones/localnetwork/vmbr10` -> sdn. */
const pathKind = (path: string, scope: EnvironmentScope): string =>
    path === `/storage/${scope.imageDatastore}` && scope.imageDatastore !== scope.storage ? "images" : path.split("/")[1];

/**
 * One environment's Proxmox identity, created by the host stack (which runs as root):
 * a user with no password, one role per ACL path holding exactly what the environment's
 * resources need there (`environmentGrants`, checked against the environment's graph by
 * tests/access.test.ts), and a privilege-separated API token. Proxmox gives such a token
 * the intersection of its own ACLs and its user's (pve-access-control RPCEnvironment.pm),
 * so both get the same ACLs; bpg's `Acl` resource takes a `tokenId` for the token's.
 *
 * Nothing here reaches the other environment or the host: no ACL on "/", a node, another
 * pool, storage, bridge or mapping.
 */
export class EnvironmentAccess extends pulumi.ComponentResource {
    public readonly userId: string;
    public readonly token: proxmoxve.user.Token;
    /** `user@pve!deploy=<uuid>`, the value for the environment's proxmoxApiToken: a secret */
    public readonly apiToken: pulumi.Output<string>;
    /** the read-only token's value, when asked for: a secret */
    public readonly auditApiToken?: pulumi.Output<string>;

    constructor(name: string, args: EnvironmentAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("host", "EnvironmentAccess"), name, {}, opts);
        const env = args.environment;
        this.userId = environmentUser(env);
        const child = { parent: this };

        const user = new proxmoxve.UserLegacy(`${name}-user`, {
            userId: this.userId,
            comment: `ai-dualstack ${env} environment: API tokens only, ACLs on its own pool, storage, bridge and GPU mapping`,
            enabled: true,
        }, child);

        this.token = new proxmoxve.user.Token(`${name}-token`, {
            userId: user.userId,
            tokenName: "deploy",
            comment: `pulumi up of the ${env} stack`,
            privilegesSeparation: true,
        }, child);
        this.apiToken = pulumi.secret(this.token.value);

        const audit = args.auditToken === true
            ? new proxmoxve.user.Token(`${name}-audit-token`, {
                userId: user.userId,
                tokenName: "audit",
                comment: `read-only: previews and drift checks of the ${env} stack`,
                privilegesSeparation: true,
            }, child)
            : undefined;
        if (audit !== undefined) {
            this.auditApiToken = pulumi.secret(audit.value);
        }

        const grant = (role: string, privileges: readonly string[], path: string, tokens: readonly proxmoxve.user.Token[]) => {
            const r = new proxmoxve.RoleLegacy(`${name}-role-${role}`, {
                roleId: `ai-dualstack-${env}-${role}`,
                privileges: privileges.map((p) => forPveMajor(p, args.pveMajor)),
            }, child);
            // The user holds the privileges too: a privilege-separated token gets only what both hold.
            new proxmoxve.Acl(`${name}-acl-${role}-user`, { path, roleId: r.roleId, userId: user.userId, propagate: false }, child);
            for (const token of tokens) {
                new proxmoxve.Acl(`${name}-acl-${role}-${token === audit ? "audit" : "token"}`, {
                    path, roleId: r.roleId, tokenId: token.id, propagate: false,
                }, child);
            }
        };
        for (const [path, privileges] of environmentGrants(args.scope)) {
            grant(pathKind(path, args.scope), privileges, path, [this.token]);
        }
        if (audit !== undefined) {
            for (const [path, privileges] of environmentAuditGrants(args.scope)) {
                grant(`${pathKind(path, args.scope)}-audit`, privileges, path, [audit]);
            }
        }

        this.registerOutputs({ userId: this.userId, apiToken: this.apiToken, auditApiToken: this.auditApiToken });
    }
}
