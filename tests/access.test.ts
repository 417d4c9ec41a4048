/**
 * Least privilege: the privilege table against both real environment graphs, the grants
 * the host stack gives each environment (exactly what its graph needs, nothing of the other
 * environment or the host), the EnvironmentAccess component, and host-key pinning of every
 * remote command.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { EnvironmentAccess } from "../components/access/environmentAccess";
import {
    deriveAccess, environmentAuditGrants, environmentGrants, environmentPool, EnvironmentScope, forPveMajor,
    isEnvironmentPath, mergeNeeds, preflightNeeds, PRIVILEGE_TABLE, PVE_AUDITOR,
} from "../components/access/privileges";
import type { StackConfig } from "../config/schema";
import { evaluateStack, MOCK_GENERATED_SECRET } from "../tools/lib/evaluate";
import { byName, EnvEvaluation, evaluate, evaluateHost, HostEvaluation, stackFile, TYPES } from "./helpers";

const scopeOf = (c: StackConfig): EnvironmentScope => ({
    pool: environmentPool(c.environment),
    storage: c.storage.pool,
    imageDatastore: c.images.datastore,
    bridge: c.network.bridge,
    gpuMapping: c.gpu.mappingName,
});
const ctxOf = (c: StackConfig) => ({ pool: environmentPool(c.environment), imageDatastore: c.images.datastore });

/** Host-level resources in an environment graph: none, the host stack owns them all. */
const HOST_LEVEL_TODAY: string[] = [];

let envs: Record<string, EnvEvaluation>;
beforeAll(async () => {
    envs = { private: await evaluate("private"), public: await evaluate("public") };
});

describe.each(["private", "public"])("the %s graph against the privilege table", (stack) => {
    test("every resource type is in the table and nothing needs a privilege on / or a node", () => {
        const derived = deriveAccess(envs[stack].graph.resources, ctxOf(envs[stack].config));
        expect(derived.unknown).toEqual([]);
        expect(derived.beyondEnvironment).toEqual([]);
        expect([...new Set(derived.hostOnly.map((r) => r.type))].sort()).toEqual(HOST_LEVEL_TODAY);
    });

    test("the grants are exactly what the graph needs: same paths, same privileges", () => {
        const { config, graph } = envs[stack];
        // What its resources need, and what its preflight reads (invokes: in no graph).
        const needs = mergeNeeds(deriveAccess(graph.resources, ctxOf(config)).needs, preflightNeeds(scopeOf(config)));
        expect(Object.fromEntries(environmentGrants(scopeOf(config)))).toEqual(Object.fromEntries(needs));
    });

    test("every guest joins the environment's pool, so the pool's ACL reaches it", () => {
        const guests = envs[stack].graph.resources.filter((r) => r.type === TYPES.vm || r.type === TYPES.container);
        expect(guests.length).toBeGreaterThan(1);
        guests.forEach((g) => expect({ guest: g.name, pool: g.inputs.poolId }).toEqual({ guest: g.name, pool: `ai-dualstack-${stack}` }));
    });
});

describe("the host stack's grants, as its graph creates them", () => {
    let host: HostEvaluation;
    beforeAll(async () => {
        host = await evaluateHost();
    });

    /** path -> privileges of one environment's ACLs in the host graph, for its deploy token or its user. */
    const granted = (env: string, holder: "token" | "user") => {
        const roles = new Map(host.graph.resources.filter((r) => r.type === "proxmoxve:index/roleLegacy:RoleLegacy")
            .map((r) => [r.inputs.roleId as string, r.inputs.privileges as string[]]));
        return Object.fromEntries(host.graph.resources
            .filter((r) => r.type === "proxmoxve:index/acl:Acl" && (r.inputs.roleId as string).startsWith(`ai-dualstack-${env}-`))
            .filter((r) => (holder === "token" ? (r.inputs.tokenId as string | undefined ?? "").startsWith(`${env}-access-token`) : r.inputs.userId === `ai-dualstack-${env}@pve`))
            .map((r) => [r.inputs.path as string, [...(roles.get(r.inputs.roleId as string) ?? [])].sort()]));
    };

    test.each(["private", "public"])("%s: the token and its user hold exactly what the environment's graph and preflight need", (env) => {
        const { config, graph } = envs[env];
        const needs = mergeNeeds(deriveAccess(graph.resources, ctxOf(config)).needs, preflightNeeds(scopeOf(config)));
        expect(granted(env, "token")).toEqual(Object.fromEntries(needs));
        expect(granted(env, "user")).toEqual(Object.fromEntries(needs));
        // one privilege-separated deploy token, no audit token unless asked for
        const tokens = host.graph.resources.filter((r) => r.type === "proxmoxve:user/token:Token" && r.inputs.userId === `ai-dualstack-${env}@pve`);
        expect(tokens.map((t) => [t.inputs.tokenName, t.inputs.privilegesSeparation])).toEqual([["deploy", true]]);
    });

    test.each([["private", "public"], ["public", "private"]])("%s's grants name nothing of %s", (env, other) => {
        const o = envs[other].config;
        const foreign = [environmentPool(other), o.storage.pool, o.network.bridge, o.gpu.mappingName];
        const paths = Object.keys(granted(env, "token"));
        expect(paths.length).toBeGreaterThan(3);
        paths.forEach((p) => {
            expect(isEnvironmentPath(p)).toBe(true);
            expect({ path: p, foreign: foreign.some((f) => p.split("/").includes(f)) }).toEqual({ path: p, foreign: false });
        });
    });

    test("the tokens and tune keys are stack outputs, every one a secret", () => {
        for (const key of ["privateApiToken", "publicApiToken", "privateVmTuneKey", "publicVmTuneKey"]) {
            expect({ key, value: host.graph.outputs[key] }).toEqual({ key, value: "[secret]" });
        }
        expect(JSON.stringify(host.graph)).not.toContain(MOCK_GENERATED_SECRET);
    });

    test("the monitoring identity: a user and its privilege-separated token metrics, PVEAuditor on / for both, the token a secret output", () => {
        const user = host.graph.resources.filter((r) => r.type === "proxmoxve:index/userLegacy:UserLegacy" && r.inputs.userId === "ai-dualstack-monitoring@pve");
        expect(user).toHaveLength(1);
        const tokens = host.graph.resources.filter((r) => r.type === "proxmoxve:user/token:Token" && r.inputs.userId === "ai-dualstack-monitoring@pve");
        expect(tokens.map((t) => [t.inputs.tokenName, t.inputs.privilegesSeparation])).toEqual([["metrics", true]]);
        const acls = host.graph.resources.filter((r) => r.type === "proxmoxve:index/acl:Acl" && r.inputs.roleId === "PVEAuditor");
        expect(acls.map((a) => ({ path: a.inputs.path, propagate: a.inputs.propagate, who: (a.inputs.userId ?? a.inputs.tokenId) as string })).sort((a, b) => a.who.localeCompare(b.who)))
            .toEqual([
                { path: "/", propagate: true, who: "ai-dualstack-monitoring@pve" },
                // the token's id (the offline mock's id of the metrics token)
                { path: "/", propagate: true, who: `${tokens[0].name}-id` },
            ]);
        // Nothing else is granted on "/": the environments' ACLs stay on their own paths.
        expect(host.graph.resources.filter((r) => r.type === "proxmoxve:index/acl:Acl" && r.inputs.path === "/")).toHaveLength(2);
        // and /access (users, tokens, the ACL tree) is cut out for both with NoAccess, which
        // replaces the propagated role there (pve-access-control AccessControl.pm `roles`).
        const cut = host.graph.resources.filter((r) => r.type === "proxmoxve:index/acl:Acl" && r.inputs.roleId === "NoAccess");
        expect(cut.map((a) => ({ path: a.inputs.path, propagate: a.inputs.propagate, who: (a.inputs.userId ?? a.inputs.tokenId) as string })).sort((a, b) => a.who.localeCompare(b.who)))
            .toEqual([
                { path: "/access", propagate: true, who: "ai-dualstack-monitoring@pve" },
                { path: "/access", propagate: true, who: `${tokens[0].name}-id` },
            ]);
        expect(host.graph.outputs.monitoringAuditToken).toBe("[secret]");
    });

    test("with auditTokens the host stack also makes each environment's read-only token, output as a secret", async () => {
        const e = await evaluateHost((c) => { c["ai-dualstack:access"] = { auditTokens: true }; });
        expect(e.graph.resources.filter((r) => r.type === "proxmoxve:user/token:Token").map((t) => `${t.inputs.userId as string}!${t.inputs.tokenName as string}`).sort())
            .toEqual(["ai-dualstack-monitoring@pve!metrics", "ai-dualstack-private@pve!audit", "ai-dualstack-private@pve!deploy", "ai-dualstack-public@pve!audit", "ai-dualstack-public@pve!deploy"]);
        expect(e.graph.outputs.publicAuditApiToken).toBe("[secret]");
    });

    test("PVE 8 gets the privilege names it knows", async () => {
        const e = await evaluateHost((c) => { c["ai-dualstack:access"] = { pveMajor: 8 }; });
        const pool = e.graph.resources.find((r) => r.type === "proxmoxve:index/roleLegacy:RoleLegacy" && r.inputs.roleId === "ai-dualstack-private-pool");
        expect(pool?.inputs.privileges).toContain("VM.Monitor");
        expect(pool?.inputs.privileges).not.toContain("VM.GuestAgent.Audit");
    });
});

test("no grant of one environment names anything of the other", () => {
    const priv = [...environmentGrants(scopeOf(envs.private.config)).keys()];
    const pub = [...environmentGrants(scopeOf(envs.public.config)).keys()];
    const shared = priv.filter((p) => pub.includes(p));
    // Only the shared image storage, and there only Datastore.Audit (reading the images).
    expect(shared).toEqual([`/storage/${envs.private.config.images.datastore}`]);
    expect(environmentGrants(scopeOf(envs.public.config)).get(shared[0])).toEqual(["Datastore.Audit"]);
    [...priv, ...pub].forEach((p) => expect(isEnvironmentPath(p)).toBe(true));
});

describe("the derivation catches what a token may not do", () => {
    const vmInputs = (extra: Record<string, unknown>) => [{ type: TYPES.vm, name: "x", custom: true, inputs: { vmId: 101, poolId: "ai-dualstack-private", started: true, ...extra } }];
    const ctx = { pool: "ai-dualstack-private", imageDatastore: "local" };
    test.each([
        ["hugepages on the VM resource", { memory: { dedicated: 1024, hugepages: "1024" } }, "memory.hugepages: root@pam only"],
        ["CPU affinity on the VM resource", { cpu: { cores: 2, affinity: "0-3" } }, "cpu.affinity: root@pam only"],
        ["a startup order on the VM resource", { startup: { order: 2 } }, "startup order (qemu-server: Sys.Modify on /)"],
        ["a raw PCI id", { hostpcis: [{ device: "hostpci0", id: "0000:01:00" }] }, "a raw PCI id"],
    ])("%s", (_what, extra, why) => {
        const derived = deriveAccess(vmInputs(extra), ctx);
        expect(derived.beyondEnvironment.map((b) => `${b.need.path} ${b.need.why}`).join("\n")).toContain(why);
    });

    test("a privileged container needs Sys.Modify on /", () => {
        const derived = deriveAccess([{ type: TYPES.container, name: "c", custom: true, inputs: { vmId: 110, unprivileged: false } }], ctx);
        expect(derived.beyondEnvironment.map((b) => b.need.path)).toEqual(["/"]);
    });

    test("a guest outside the pool needs its own ACL, which the grants do not give", () => {
        const derived = deriveAccess([{ type: TYPES.vm, name: "x", custom: true, inputs: { vmId: 101 } }], ctx);
        expect([...derived.needs.keys()]).toEqual(["/vms/101"]);
    });

    test("an unknown resource type is reported, not silently allowed", () => {
        expect(deriveAccess([{ type: "proxmoxve:index/vm:Vm", name: "v", custom: true, inputs: {} }], ctx).unknown).toEqual([{ name: "v", type: "proxmoxve:index/vm:Vm" }]);
    });
});

test("every table row cites its upstream source", () => {
    for (const [type, row] of Object.entries(PRIVILEGE_TABLE)) {
        expect({ type, cited: row.sources.length > 0 && row.sources.every((s) => s.length > 10) }).toEqual({ type, cited: true });
    }
});

test("the read-only grants are PVEAuditor privileges on the same paths only", () => {
    const scope = scopeOf(envs.public.config);
    const audit = environmentAuditGrants(scope);
    expect([...audit.keys()]).toEqual([...environmentGrants(scope).keys()]);
    for (const privileges of audit.values()) {
        expect(privileges.length).toBeGreaterThan(0);
        privileges.forEach((p) => expect(PVE_AUDITOR).toContain(p));
    }
});

test("PVE 8 names the guest-agent read VM.Monitor", () => {
    expect(forPveMajor("VM.GuestAgent.Audit", 8)).toBe("VM.Monitor");
    expect(forPveMajor("VM.GuestAgent.Audit", 9)).toBe("VM.GuestAgent.Audit");
    expect(forPveMajor("VM.Allocate", 8)).toBe("VM.Allocate");
});

describe("EnvironmentAccess on its own", () => {
    interface Created { type: string; name: string; inputs: Record<string, unknown> }
    const created: Created[] = [];
    let apiTokenSecret = false;

    beforeAll(async () => {
        await pulumi.runtime.setMocks({
            newResource: (a) => {
                created.push({ type: a.type, name: a.name, inputs: a.inputs as Record<string, unknown> });
                const state = a.type === "proxmoxve:user/token:Token" ? { ...a.inputs, value: `${String(a.inputs.userId)}!${String(a.inputs.tokenName)}=00000000-0000-0000-0000-000000000000` } : a.inputs;
                const id = a.type === "proxmoxve:user/token:Token" ? `${String(a.inputs.userId)}!${String(a.inputs.tokenName)}` : `${a.name}-id`;
                return { id, state };
            },
            call: () => ({}),
        }, "ai-dualstack", "host", true);
        const access = new EnvironmentAccess("public-access", { environment: "public", scope: scopeOf(envs.public.config), pveMajor: 9, auditToken: true });
        apiTokenSecret = await pulumi.isSecret(access.apiToken);
        await new Promise((resolve) => access.apiToken.apply(resolve));
    });

    const ofType = (t: string) => created.filter((c) => c.type === t);

    test("one user, a privilege-separated deploy token and a read-only token; the token value is a secret", () => {
        expect(ofType("proxmoxve:index/userLegacy:UserLegacy").map((u) => u.inputs.userId)).toEqual(["ai-dualstack-public@pve"]);
        expect(ofType("proxmoxve:index/userLegacy:UserLegacy")[0].inputs.password).toBeUndefined();
        expect(ofType("proxmoxve:user/token:Token").map((t) => [t.inputs.tokenName, t.inputs.privilegesSeparation])).toEqual([["deploy", true], ["audit", true]]);
        expect(apiTokenSecret).toBe(true);
    });

    test("the deploy token's roles hold exactly the grants, on exactly their paths, for user and token alike", () => {
        const roles = new Map(ofType("proxmoxve:index/roleLegacy:RoleLegacy").map((r) => [r.inputs.roleId, r.inputs.privileges]));
        const acls = ofType("proxmoxve:index/acl:Acl");
        const granted = (holder: "tokenId" | "userId", tokenName?: string) => Object.fromEntries(acls
            .filter((a) => a.inputs[holder] !== undefined && (tokenName === undefined || String(a.inputs.tokenId).endsWith(`!${tokenName}`)))
            .map((a) => [a.inputs.path, roles.get(a.inputs.roleId)]));
        const expected = Object.fromEntries(environmentGrants(scopeOf(envs.public.config)));
        expect(granted("tokenId", "deploy")).toEqual(expected);
        expect(Object.fromEntries(Object.entries(granted("tokenId", "audit")))).toEqual(Object.fromEntries(environmentAuditGrants(scopeOf(envs.public.config))));
        acls.forEach((a) => {
            expect(isEnvironmentPath(String(a.inputs.path))).toBe(true);
            expect(String(a.inputs.path)).not.toMatch(/private|vmbr10|tank-private/);
            expect(a.inputs.propagate).toBe(false);
        });
        // The user holds every role its tokens hold (a privilege-separated token gets the intersection).
        const userRoles = new Set(acls.filter((a) => a.inputs.userId !== undefined).map((a) => `${String(a.inputs.path)} ${String(a.inputs.roleId)}`));
        acls.filter((a) => a.inputs.tokenId !== undefined).forEach((a) => expect(userRoles).toContain(`${String(a.inputs.path)} ${String(a.inputs.roleId)}`));
    });
});

test("every remote command pins the SSH host key: from config for nodes, from first contact for the new VM", async () => {
    for (const stack of ["host", "private", "public"]) {
        const commands: Record<string, unknown>[] = [];
        const vmKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirstContactKeyOfTheNewVm";
        const evaluation = await evaluateStack({
            stack,
            file: stackFile(stack),
            onMockResource: (a) => {
                if (a.type !== TYPES.command) return;
                commands.push(a.inputs as Record<string, unknown>);
                // What the first-contact step prints on a real VM: the guest's ed25519 host key.
                return String(a.inputs.create).includes("ssh_host_ed25519_key.pub") ? { stdout: `${vmKey} root@vm\n` } : undefined;
            },
        });
        const hosts = evaluation.validated.kind === "host" ? evaluation.validated.box.hosts : evaluation.validated.stack.hosts;
        const keys = hosts.map((h) => h.sshHostKey);
        const nodeAddresses = new Set(hosts.map((h) => h.address));
        expect(commands.length).toBeGreaterThan(stack === "host" ? 0 : 1);
        let firstContact = 0;
        for (const c of commands) {
            // The engine receives the connection as a secret: { <signature>: ..., value: {...} }.
            const wrapped = c.connection as Record<string, unknown>;
            const connection = ("value" in wrapped ? wrapped.value : wrapped) as Record<string, unknown>;
            if (nodeAddresses.has(String(connection.host))) {
                // A Proxmox node: the key from config.
                expect({ host: connection.host, pinned: keys.includes(String(connection.hostKey)) }).toEqual({ host: connection.host, pinned: true });
            } else if (String(c.create).includes("ssh_host_ed25519_key.pub")) {
                // A fresh guest: Proxmox cannot hand it a host key (qemu-server Cloudinit.pm
                // writes none; pve-container generates fresh ones), so exactly one step per
                // guest reads it on first contact...
                firstContact++;
                expect(connection.hostKey).toBeUndefined();
            } else {
                // ...and every later step to the guest is pinned to what that step read.
                expect({ host: connection.host, hostKey: connection.hostKey }).toEqual({ host: connection.host, hostKey: vmKey });
            }
        }
        // The host stack talks to nodes only; an environment meets its AI VM and each container once.
        expect(firstContact).toBe(evaluation.validated.kind === "host" ? 0 : 1 + evaluation.validated.stack.containers.length);
        // and the plan itself never shows the connection: the tune key stays a secret
        const secretConnection = stack === "host" ? "host-prep-pve" : `${stack}-ai-tune`;
        expect(byName(evaluation.graph.resources, secretConnection).inputs.connection).toBe("[secret]");
    }
});

test("the README's security model names what the code does", () => {
    const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
    const model = readme.slice(readme.indexOf("## TLS and SSH"), readme.indexOf("## Layout"));
    for (const fact of ["/etc/pve/pve-root-ca.pem", "SSL_CERT_FILE", "ssh-keyscan", "hosts[].sshHostKey", "ApiToken", "VmTuneKey",
        "containerUserAccount", "authorized_keys", "restrict", "privilege-separated", "preview-<env>", "components/access/privileges.ts"]) {
        expect({ fact, present: model.includes(fact) }).toEqual({ fact, present: true });
    }
});
