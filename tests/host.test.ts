/**
 * The host layer as each stack builds it: its own PCI mapping, its own protected ZFS
 * mirror, its own bridge/VLAN and host-prep commands, one explicit provider.
 */
import type { Evaluation } from "../tools/lib/evaluate";
import { byName, evaluate, input, ofType, TYPES } from "./helpers";

let privateEnv: Evaluation;
let publicEnv: Evaluation;

beforeAll(async () => {
    privateEnv = await evaluate("private");
    publicEnv = await evaluate("public");
});

describe.each([
    ["private", () => privateEnv, { mapping: "private-gpu", id: "10de:2b85", path: "0000:01:00", pool: "tank-private", bridge: "vmbr10", vlan: "eno1.10", suffix: "PRIVATE" }],
    ["public", () => publicEnv, { mapping: "public-gpu", id: "10de:2504", path: "0000:02:00", pool: "tank-public", bridge: "vmbr20", vlan: "eno1.20", suffix: "PUBLIC" }],
])("%s stack", (env, get, want) => {
    test("has one PCI mapping for its own card, covering the whole slot", () => {
        const mappings = ofType(get().graph.resources, TYPES.pci);
        expect(mappings).toHaveLength(1);
        expect(input(mappings[0], "name")).toBe(want.mapping);
        expect(input(mappings[0], "maps")).toEqual([expect.objectContaining({ id: want.id, node: "pve", path: want.path })]);
    });

    test("has one protected, retained ZFS mirror over its two configured devices", () => {
        const pools = ofType(get().graph.resources, TYPES.zfs);
        expect(pools).toHaveLength(1);
        const pool = pools[0];
        expect(pool.inputs).toMatchObject({
            name: want.pool,
            raidlevel: "mirror",
            ashift: 12,
            compression: "lz4",
            addStorage: true,
            cleanupDisks: false,
            devices: [`/dev/disk/by-id/nvme-CT1000P3PSSD8_${want.suffix}_A`, `/dev/disk/by-id/nvme-CT1000P3PSSD8_${want.suffix}_B`],
        });
        expect(pool.options.protect).toBe(true);
        expect(pool.options.retainOnDelete).toBe(true);
    });

    test("has its own bridge on its own VLAN, and the bridge waits for the VLAN", () => {
        const bridge = byName(get().graph.resources, `${env}-host-bridge-pve`);
        const vlan = byName(get().graph.resources, `${env}-host-vlan-pve`);
        expect(input(bridge, "name")).toBe(want.bridge);
        expect(input(bridge, "ports")).toEqual([want.vlan]);
        expect(input(vlan, "name")).toBe(want.vlan);
        expect(bridge.dependencies).toContain(vlan.urn);
    });

    test("prepares the host with its own IOMMU, vfio and hugepages steps", () => {
        // (the other remote command, `${env}-ai-tune`, is the AI VM's tune request: tests/compute.test.ts; the commands inside the guests are tests/provision.test.ts's)
        const commands = ofType(get().graph.resources, TYPES.command).map((c) => c.name).filter((n) => n.startsWith(`${env}-host-`)).sort();
        expect(commands).toEqual([`${env}-host-hugepages-pve`, `${env}-host-iommu-pve`, `${env}-host-vfio-pve`]);
        const vfio = byName(get().graph.resources, `${env}-host-vfio-pve`);
        expect(String(input(vfio, "create"))).toMatch(new RegExp(`^bash -s -- apply ${want.path} <<'AI_DUALSTACK_SCRIPT_END'`));
        expect(String(input(vfio, "delete"))).toMatch(new RegExp(`^bash -s -- revert ${want.path} <<`));
        // Old and new versions of a step share files: the old one is reverted first.
        expect(vfio.options.deleteBeforeReplace).toBe(true);
        // The SSH connection carries the private key, so the whole block is secret.
        expect(input(vfio, "connection")).toBe("[secret]");
    });

    test("builds every Proxmox resource with the environment's explicit provider", () => {
        const { resources } = get().graph;
        const provider = ofType(resources, TYPES.provider);
        expect(provider).toHaveLength(1);
        expect(provider[0].inputs).toMatchObject({ endpoint: "https://192.168.1.10:8006/", apiToken: "[secret]", insecure: "false", ssh: "[secret]" });
        const proxmox = resources.filter((r) => r.custom && r.type.startsWith("proxmoxve:"));
        expect(proxmox.length).toBeGreaterThan(10);
        for (const r of proxmox) {
            expect({ name: r.name, provider: r.provider }).toEqual({ name: r.name, provider: provider[0].urn });
        }
    });

    test("exports what a user needs to find its parts", () => {
        expect(get().graph.outputs).toMatchObject({ environment: env, gpuMapping: want.mapping, zfsPool: want.pool, bridge: want.bridge });
    });
});

describe("the two stacks share nothing", () => {
    /** Every identifier of an environment that must not appear in the other's graph. */
    const identifiers = (e: Evaluation): string[] => {
        const c = e.config;
        return [
            c.gpu.mappingName, c.gpu.pciAddress, c.storage.pool, ...c.storage.devices, c.network.bridge,
            c.network.subnet, `${c.hosts[0].uplink}.${c.network.vlanId}`, c.aiVm.name, c.aiVm.ip,
            ...c.containers.flatMap((ct) => [ct.name, ct.ip]),
            ...e.graph.resources.map((r) => r.name),
        ];
    };
    const vmids = (e: Evaluation) => [e.config.aiVm.vmid, e.config.aiVm.dataVmid, ...e.config.containers.map((c) => c.vmid)];

    test.each([
        ["public", "private", () => publicEnv, () => privateEnv],
        ["private", "public", () => privateEnv, () => publicEnv],
    ])("the %s graph names nothing of the %s one", (_a, _b, mine, other) => {
        const text = JSON.stringify(mine().graph);
        for (const id of identifiers(other())) {
            expect({ id, found: text.includes(`"${id}"`) || text.includes(`"${id}/`) }).toEqual({ id, found: false });
        }
        const myVmids = new Set(vmids(mine()));
        for (const id of vmids(other())) {
            expect(myVmids.has(id)).toBe(false);
        }
        for (const r of mine().graph.resources.filter((res) => res.type === TYPES.vm || res.type === TYPES.container)) {
            expect(vmids(other())).not.toContain(input(r, "vmId"));
        }
    });

    test("the host-prep files of the two stacks differ, so neither reverts the other's", () => {
        const fragments = (e: Evaluation) => ofType(e.graph.resources, TYPES.command)
            .filter((c) => c.name.startsWith(`${e.config.environment}-host-`))
            .map((c) => String(input(c, "create")).split("\n")[0]);
        const mine = fragments(privateEnv);
        const theirs = fragments(publicEnv);
        expect(mine.filter((line) => theirs.includes(line))).toEqual([]);
    });
});
