/**
 * The host stack's graph: what the box shares, owned once. Both mirrors and mappings
 * (protected), both networks, the images, one host preparation per node, the cluster
 * firewall really on with node access only from the admin sources, security groups,
 * pools, and backup jobs that reach the data through the running AI VM.
 * And the environment stacks: none of it, and their preflight when it is missing.
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../config/load";
import { HostStackMissingError } from "../components/hostObjects";
import { byName, evaluate, evaluateHost, HostEvaluation, input, key, ofType, TYPES } from "./helpers";
import type { PlanResource } from "../graph";
import { CONTAINER_ROLES } from "../config/schema";
import { guestRules } from "../components/ops/firewallProfiles";

let host: HostEvaluation;

beforeAll(async () => {
    host = await evaluateHost();
});

const r = () => host.graph.resources;

describe.each([
    ["private", { mapping: "private-gpu", id: "10de:2b85", path: "0000:01:00", pool: "tank-private", bridge: "vmbr10", vlan: "eno1.10", suffix: "PRIVATE", vmids: ["101", "110", "111", "112", "113", "114", "115"] }],
    ["public", { mapping: "public-gpu", id: "10de:2504", path: "0000:02:00", pool: "tank-public", bridge: "vmbr20", vlan: "eno1.20", suffix: "PUBLIC", vmids: ["201", "210", "211", "212"] }],
])("the host stack's share for %s", (env, want) => {
    test("one PCI mapping for its card over the whole slot, protected", () => {
        const mapping = byName(r(), `${env}-gpu-mapping`);
        expect(input(mapping, "name")).toBe(want.mapping);
        expect(input(mapping, "maps")).toEqual([expect.objectContaining({ id: want.id, node: "pve", path: want.path })]);
        expect(mapping.options).toMatchObject({ protect: true, retainOnDelete: true });
    });

    test("one protected, retained ZFS mirror over its two configured devices", () => {
        const pool = byName(r(), `${env}-storage-pool`);
        expect(pool.inputs).toMatchObject({
            name: want.pool, raidlevel: "mirror", ashift: 12, compression: "lz4", addStorage: true, cleanupDisks: false,
            devices: [`/dev/disk/by-id/nvme-CT1000P3PSSD8_${want.suffix}_A`, `/dev/disk/by-id/nvme-CT1000P3PSSD8_${want.suffix}_B`],
        });
        expect(pool.options).toMatchObject({ protect: true, retainOnDelete: true });
    });

    test("its own bridge on its own VLAN, the bridge waiting for the VLAN", () => {
        const bridge = byName(r(), `${env}-net-bridge-pve`);
        const vlan = byName(r(), `${env}-net-vlan-pve`);
        expect(input(bridge, "name")).toBe(want.bridge);
        expect(input(bridge, "ports")).toEqual([want.vlan]);
        expect(input(vlan, "name")).toBe(want.vlan);
        expect(bridge.dependencies).toContain(vlan.urn);
    });

    test("a resource pool holding its storage", () => {
        expect(input(byName(r(), `${env}-pool`), "poolId")).toBe(`ai-dualstack-${env}`);
        expect(byName(r(), `${env}-pool-storage`).inputs).toEqual({ poolId: `ai-dualstack-${env}`, storageId: want.pool });
    });

    test("a snapshot backup job over the AI VM and the containers, never the data holder", () => {
        const job = byName(r(), `${env}-backup-job`);
        expect(job.inputs).toMatchObject({ resourceId: `ai-dualstack-${env}`, mode: "snapshot", storage: "local", schedule: "*-*-* 02:00", enabled: true });
        expect(input(job, "vmids")).toEqual(want.vmids);
        expect(input(job, "vmids")).not.toContain(String(host.host.environments.find((e) => e.environment === env)?.config.aiVm.dataVmid));
        expect(input(job, "pruneBackups")).toEqual({ "keep-daily": "7", "keep-monthly": "6", "keep-weekly": "4" });
    });
});

describe("host preparation", () => {
    test("one run per node carrying both GPUs and the sum of both environments' hugepages", () => {
        const prep = ofType(r(), TYPES.command).filter((c) => c.name.startsWith("host-prep-"));
        expect(prep.map((c) => c.name)).toEqual(["host-prep-pve"]);
        const create = String(input(prep[0], "create"));
        expect(create.split("\n")[0]).toBe("bash -s -- apply iommu=intel vfio=0000:01:00 vfio=0000:02:00 hugepages-1G=88 <<'AI_DUALSTACK_SCRIPT_END'");
        expect(String(input(prep[0], "delete")).split("\n")[0]).toBe("bash -s -- revert <<'AI_DUALSTACK_SCRIPT_END'");
        // A changed state converges through update, not a revert-then-apply.
        expect(String(input(prep[0], "update"))).toBe(create);
        expect(input(prep[0], "connection")).toBe("[secret]");
    });

    test("a second node with a card of its own gets its own run, with its vendor's IOMMU tokens", async () => {
        const e = await evaluateHost((c) => {
            key<Record<string, unknown>[]>(c, "hosts").push({ name: "pve2", address: "192.168.1.11", cpuVendor: "amd", memoryGiB: 64, sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPve2" });
        }, { private: (c) => { key(c, "gpu").otherNodes = [{ node: "pve2", pciAddress: "0000:41:00.0", iommuGroup: 30, subsystemId: "10de:2198" }]; } });
        const runs = ofType(e.graph.resources, TYPES.command).filter((c) => c.name.startsWith("host-prep-")).map((c) => [c.name, String(input(c, "create")).split("\n")[0]]);
        expect(runs).toEqual([
            ["host-prep-pve", "bash -s -- apply iommu=intel vfio=0000:01:00 vfio=0000:02:00 hugepages-1G=88 <<'AI_DUALSTACK_SCRIPT_END'"],
            ["host-prep-pve2", "bash -s -- apply iommu=amd vfio=0000:41:00 <<'AI_DUALSTACK_SCRIPT_END'"],
        ]);
        // Both nodes get the tune script and limits; the key lines go in once (the file is the cluster's).
        expect(ofType(e.graph.resources, TYPES.command).filter((c) => c.name.startsWith("host-tune-")).map((c) => c.name).sort()).toEqual(["host-tune-keys", "host-tune-pve", "host-tune-pve2"]);
        // Both nodes get both environments' bridges and the images.
        expect(ofType(e.graph.resources, TYPES.bridge)).toHaveLength(4);
        expect(ofType(e.graph.resources, TYPES.file).map((f) => f.name).sort()).toEqual(["host-images-cloud-pve", "host-images-cloud-pve2", "host-images-lxc-pve", "host-images-lxc-pve2"]);
    });
});

describe("the cluster firewall", () => {
    const named = (name: string): PlanResource => byName(r(), name);

    test("is enabled with input DROP, and switched on only after what admits the admins exists", () => {
        const options = named("host-firewall-options");
        expect(options.inputs).toMatchObject({ enabled: true, inputPolicy: "DROP", outputPolicy: "ACCEPT", ebtables: true });
        for (const dep of ["host-firewall-ipset-management", "host-firewall-node-pve", "host-firewall-local-network"]) {
            expect(options.dependencies).toContain(named(dep).urn);
        }
    });

    test("management is protected and retained: any entry change would replace it delete-first and lock the admins out", () => {
        // bpg ipset.go: every cidrs field ForceNew; an explicit name makes the bridge replace
        // delete-before-replace (QUIRKS.ipsetReplacedOnChange). Protected, a change fails the
        // preview; the README's manual procedure uses the comments the program gives entries.
        expect(named("host-firewall-ipset-management").options).toMatchObject({ protect: true, retainOnDelete: true });
        const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
        const procedure = readme.slice(readme.indexOf("**Changing admin sources or node addresses.**"), readme.indexOf("**Destroying the host stack**"));
        for (const entry of input(named("host-firewall-ipset-management"), "cidrs") as { comment: string }[]) {
            expect(procedure).toContain(`\`${entry.comment.replace(/^node .*/, "node <name>")}\``);
        }
        expect(procedure).toContain("pulumi refresh --stack host");
        // The other sets hold no admin access: their replacement is only a moment's gap.
        for (const set of ofType(r(), TYPES.ipset).filter((s) => input(s, "name") !== "management")) {
            expect({ set: set.name, protect: set.options.protect ?? false }).toEqual({ set: set.name, protect: false });
        }
    });

    test("the management IP set holds the admin sources and the nodes; local_network is pinned to the node", () => {
        expect(input(named("host-firewall-ipset-management"), "cidrs")).toEqual([
            { name: "192.168.1.0/24", comment: "admin source" },
            { name: "192.168.1.10", comment: "node pve" },
        ]);
        expect(named("host-firewall-local-network").inputs).toMatchObject({ name: "local_network", cidr: "192.168.1.10" });
        expect(input(named("host-firewall-ipset-admin-sources"), "cidrs")).toEqual([{ name: "192.168.1.0/24", comment: "admin source" }]);
    });

    test("local_network stays one node's address when the nodes sit in unrelated networks (never a block around them)", async () => {
        // pve-firewall adds local_network to `management` (admitted to 8006, 22, consoles,
        // migration): a common-prefix block of 192.168.1.10 and 10.0.0.5 would be 0.0.0.0/0.
        const e = await evaluateHost((c) => {
            key<Record<string, unknown>[]>(c, "hosts").push({ name: "pve2", address: "10.0.0.5", cpuVendor: "amd", memoryGiB: 64, sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPve2" });
        });
        expect(byName(e.graph.resources, "host-firewall-local-network").inputs).toMatchObject({ name: "local_network", cidr: "192.168.1.10" });
        expect((input(byName(e.graph.resources, "host-firewall-ipset-management"), "cidrs") as { name: string }[]).map((c) => c.name))
            .toEqual(["192.168.1.0/24", "192.168.1.10", "10.0.0.5"]);
    });

    test("the node firewall is on and the stack adds no node rules: pve-firewall's built-in ones admit management", () => {
        // Built-in: 8006, 22, consoles and migration from `management` (pve-firewall
        // src/PVE/Firewall.pm). A rules resource of ours would abort on any node that has
        // rules already (bpg rules.go RulesCreate "Existing rules detected. Aborting...").
        expect(named("host-firewall-node-pve").inputs).toMatchObject({ nodeName: "pve", enabled: true, logLevelIn: "nolog" });
        expect(ofType(r(), TYPES.firewallRules).filter((x) => input(x, "nodeName") !== undefined && input(x, "vmId") === undefined && input(x, "containerId") === undefined)).toEqual([]);
    });

    test("one IP set per environment subnet, and the ranges that are not the internet", () => {
        expect(input(named("host-firewall-ipset-private-subnet"), "cidrs")).toEqual([{ name: "10.10.10.0/24", comment: "private VLAN 10" }]);
        expect(input(named("host-firewall-ipset-public-subnet"), "cidrs")).toEqual([{ name: "10.20.20.0/24", comment: "public VLAN 20" }]);
        expect((input(named("host-firewall-ipset-non-internet"), "cidrs") as { name: string }[]).map((c) => c.name))
            .toEqual(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]);
    });

    test("security groups for the service ports, their sources the cluster IP sets, names within Proxmox's 18 characters", () => {
        const groups = ofType(r(), TYPES.securityGroup);
        expect(groups.map((g) => input(g, "name")).sort()).toEqual([
            "private-base", "private-cache", "private-database", "private-monitoring", "private-security",
            "public-base", "public-cache", "public-database", "public-egress", "public-monitoring", "public-security",
        ]);
        groups.forEach((g) => expect(String(input(g, "name")).length).toBeLessThanOrEqual(18));
        expect(input(named("host-firewall-group-public-database"), "rules")).toEqual([
            { type: "in", action: "ACCEPT", proto: "tcp", dport: "5432", source: "+dc/public-subnet", comment: "PostgreSQL", enabled: true },
        ]);
        // SSH only: nothing else listens on every guest (the AI VM's exporters are its workloads').
        expect(input(named("host-firewall-group-private-base"), "rules")).toEqual([
            expect.objectContaining({ dport: "22", source: "+dc/admin-sources" }),
        ]);
    });

    test("every group a guest of any role can reference exists, even for roles no environment file has yet", async () => {
        // pve-firewall compiles a reference to a missing group as an empty chain with only a
        // warning (Firewall.pm generate_group_rules): the role's ports silently closed, or all
        // public outbound dropped without public-egress. So the groups never depend on which
        // containers the environment files hold today.
        // No containers in either file (and so no published apps, which need the proxy container).
        const bare = (c: Record<string, unknown>) => {
            c["ai-dualstack:containers"] = [];
            const apps = c["ai-dualstack:apps"] as Record<string, unknown>[] | undefined;
            apps?.forEach((app) => { delete app.publicHost; });
        };
        const e = await evaluateHost(undefined, { private: bare, public: bare });
        const names = new Set(ofType(e.graph.resources, TYPES.securityGroup).map((g) => String(input(g, "name"))));
        const referenced = (["private", "public"] as const).flatMap((env) => [
            ...CONTAINER_ROLES.flatMap((role) => guestRules(env, { kind: "container", role })),
            ...guestRules(env, { kind: "ai", ports: [] }),
        ]).flatMap((rule) => (rule.securityGroup !== undefined ? [rule.securityGroup] : []));
        expect(referenced.length).toBeGreaterThan(0);
        for (const group of referenced) {
            expect({ group, exists: names.has(group) }).toEqual({ group, exists: true });
        }
        expect([...names].sort()).toEqual(ofType(r(), TYPES.securityGroup).map((g) => String(input(g, "name"))).sort());
    });

    test("public egress: own subnet, then nothing private, then the internet", () => {
        expect(input(named("host-firewall-group-public-egress"), "rules")).toEqual([
            expect.objectContaining({ type: "out", action: "ACCEPT", dest: "+dc/public-subnet" }),
            expect.objectContaining({ type: "out", action: "DROP", dest: "+dc/non-internet" }),
            { type: "out", action: "ACCEPT", comment: "the internet", enabled: true },
        ]);
    });

    test("DNS servers outside the public subnet are let through before the private ranges are dropped", async () => {
        const e = await evaluateHost(undefined, { public: (c) => { key(c, "network").dns = ["10.20.20.1", "192.168.1.1"]; } });
        const rules = input(byName(e.graph.resources, "host-firewall-group-public-egress"), "rules") as Record<string, unknown>[];
        expect(rules.map((x) => [x.action, x.proto ?? "", x.dest ?? ""])).toEqual([
            ["ACCEPT", "", "+dc/public-subnet"], ["ACCEPT", "udp", "192.168.1.1"], ["ACCEPT", "tcp", "192.168.1.1"], ["DROP", "", "+dc/non-internet"], ["ACCEPT", "", ""],
        ]);
    });
});

test("the shared images are downloaded once per node, pinned by checksum, under the names the environments use", () => {
    const cloud = byName(r(), "host-images-cloud-pve");
    expect(cloud.inputs).toMatchObject({ contentType: "import", datastoreId: "local", fileName: "ubuntu-24.04-server-cloudimg-amd64.qcow2", checksumAlgorithm: "sha256" });
    expect(byName(r(), "host-images-lxc-pve").inputs).toMatchObject({ contentType: "vztmpl", fileName: "debian-12-standard_12.12-1_amd64.tar.zst" });
    expect(host.graph.outputs.images).toEqual({ cloudImage: "local:import/ubuntu-24.04-server-cloudimg-amd64.qcow2", lxcTemplate: "local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst" });
});

test("every Proxmox resource of the host stack uses its one explicit provider", () => {
    const provider = ofType(r(), TYPES.provider);
    expect(provider).toHaveLength(1);
    expect(provider[0].inputs).toMatchObject({ endpoint: "https://192.168.1.10:8006/", password: "[secret]" });
    for (const res of r().filter((x) => x.custom && x.type.startsWith("proxmoxve:"))) {
        expect({ name: res.name, provider: res.provider }).toEqual({ name: res.name, provider: provider[0].urn });
    }
});

describe("the environment stacks", () => {
    const HOST_LEVEL = [TYPES.zfs, TYPES.pci, TYPES.bridge, TYPES.vlan, TYPES.clusterFirewall, TYPES.backupJob, TYPES.pool, TYPES.poolMembership, TYPES.file, TYPES.nodeFirewall, TYPES.securityGroup];

    test.each(["private", "public"])("%s holds no host-level resource and uses the host objects by name", async (env) => {
        const { graph } = await evaluate(env);
        expect(graph.resources.filter((x) => HOST_LEVEL.includes(x.type as typeof HOST_LEVEL[number])).map((x) => x.name)).toEqual([]);
        const vm = byName(graph.resources, `${env}-ai-vm`);
        expect(input(vm, "disks.0.importFrom")).toBe("local:import/ubuntu-24.04-server-cloudimg-amd64.qcow2");
        expect(input(vm, "hostpcis.0.mapping")).toBe(`${env}-gpu`);
        // Guests join the host stack's pool when they are created (its ACL is the env token's reach).
        for (const guest of [...ofType(graph.resources, TYPES.vm), ...ofType(graph.resources, TYPES.container)]) {
            expect({ guest: guest.name, pool: input(guest, "poolId") }).toEqual({ guest: guest.name, pool: `ai-dualstack-${env}` });
        }
        // Its remote commands are the tune request and the guest's provisioning, never host preparation.
        for (const cmd of ofType(graph.resources, TYPES.command)) {
            expect({ cmd: cmd.name, hostPrep: String(input(cmd, "create")).includes("host-prep") }).toEqual({ cmd: cmd.name, hostPrep: false });
        }
    });

    test.each(["private", "public"])("%s: every VM with ipfilter has its ipfilter-net0 IP set holding its IPv4 address", async (env) => {
        const { graph, config } = await evaluate(env);
        const filtered = ofType(graph.resources, TYPES.firewallOptions).filter((o) => input(o, "ipfilter") === true && input(o, "vmId") !== undefined);
        expect(filtered.length).toBeGreaterThan(0);
        for (const o of filtered) {
            const set = ofType(graph.resources, TYPES.ipset).find((i) => input(i, "vmId") === input(o, "vmId") && input(i, "name") === "ipfilter-net0");
            const vm = ofType(graph.resources, TYPES.vm).find((v) => input(v, "vmId") === input(o, "vmId"));
            const ip = String(input(vm as PlanResource, "initialization.ipConfigs.0.ipv4.address")).split("/")[0];
            expect(ip).toBe(config.aiVm.ip);
            expect(input(set as PlanResource, "cidrs")).toEqual([{ name: ip, comment: "the VM's static address" }]);
            // The options wait for the set: ipfilter on without it would drop the VM's IPv4.
            expect(o.dependencies).toContain((set as PlanResource).urn);
        }
    });

    test("public guests: output DROP and the egress group; private guests keep output ACCEPT", async () => {
        for (const env of ["private", "public"]) {
            const { graph } = await evaluate(env);
            for (const o of ofType(graph.resources, TYPES.firewallOptions)) {
                expect(input(o, "outputPolicy")).toBe(env === "public" ? "DROP" : "ACCEPT");
            }
            const rules = input(byName(graph.resources, `${env}-db-firewall-rules`), "rules") as Record<string, unknown>[];
            expect(rules.map((x) => x.securityGroup)).toEqual(env === "public" ? ["public-base", "public-database", undefined, "public-egress"] : ["private-base", "private-database", undefined]);
            // the one rule of its own: the exporters, from the (private) monitoring container
            expect(rules[2]).toEqual({ type: "in", action: "ACCEPT", proto: "tcp", dport: "9100,9187", source: "10.10.10.24", comment: "monitoring-scrape: exporters, from the monitoring container only", enabled: true });
        }
    });

    test.each(["private", "public"])("%s builds every Proxmox resource with its explicit provider, logged in with its scoped token over verified TLS", async (env) => {
        const { resources } = (await evaluate(env)).graph;
        const provider = ofType(resources, TYPES.provider);
        expect(provider).toHaveLength(1);
        expect(provider[0].inputs).toMatchObject({ endpoint: "https://192.168.1.10:8006/", apiToken: "[secret]", insecure: "false", ssh: "[secret]" });
        const proxmox = resources.filter((x) => x.custom && x.type.startsWith("proxmoxve:"));
        expect(proxmox.length).toBeGreaterThan(10);
        for (const x of proxmox) {
            expect({ name: x.name, provider: x.provider }).toEqual({ name: x.name, provider: provider[0].urn });
        }
    });

    test.each([["private", "private-gpu", "tank-private", "vmbr10"], ["public", "public-gpu", "tank-public", "vmbr20"]])("%s exports what a user needs to find its parts", async (env, mapping, pool, bridge) => {
        expect((await evaluate(env)).graph.outputs).toMatchObject({ environment: env, gpuMapping: mapping, zfsPool: pool, bridge });
    });

    test("without the host objects the preflight stops the run with one line saying to run the host stack first", async () => {
        const error = await evaluate("public", undefined, { hostObjects: "missing" }).then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(HostStackMissingError);
        expect((error as Error).message).toBe("run the host stack first (pulumi up --stack host): the public environment needs resource pool ai-dualstack-public, PCI mapping public-gpu, storage tank-public on node pve, which do not exist yet");
        expect((error as Error).message.split("\n")).toHaveLength(1);
    });

    test("an environment whose host file does not exist says so, naming the key", async () => {
        const error = await evaluate("private", (c) => { c["ai-dualstack:hostStack"] = "Pulumi.nohost.yaml"; }).then(() => undefined, (e: unknown) => e);
        expect((error as ConfigError).problems).toEqual([
            "ai-dualstack:hostStack: Pulumi.nohost.yaml cannot be read: write the host stack's settings file first (see the README, \"Order of operations\")",
        ]);
    });
});
