/**
 * The guests of each environment: the AI VM with its GPU and tuning, the service LXCs,
 * and how they wait on the host layer but never on each other.
 */
import type { PlanResource } from "../graph";
import { byName, EnvEvaluation as Evaluation, evaluate, input, ofType, seedEnvironments, transitiveDependencies, TYPES } from "./helpers";

const seed = seedEnvironments();

const guests = (e: Evaluation): PlanResource[] =>
    e.graph.resources.filter((r) => r.type === TYPES.vm || r.type === TYPES.container);

describe("the private AI VM", () => {
    let vm: PlanResource;
    beforeAll(() => {
        vm = byName(seed.private.graph.resources, "private-ai-vm");
    });

    test("maps the private GPU mapping, never a raw PCI id", () => {
        expect(input(vm, "hostpcis")).toEqual([{ device: "hostpci0", mapping: "private-gpu", pcie: true, rombar: true }]);
    });

    test("is tuned for passthrough: q35, OVMF without pre-enrolled keys, CPU host, NUMA, ballooning off", () => {
        expect(vm.inputs).toMatchObject({ machine: "q35", bios: "ovmf", scsiHardware: "virtio-scsi-single" });
        expect(input(vm, "efiDisk.preEnrolledKeys")).toBe(false);
        expect(input(vm, "cpu")).toEqual({ type: "host", sockets: 1, cores: 8, numa: true });
        expect(input(vm, "memory")).toEqual({ dedicated: 64 * 1024, floating: 0 });
    });

    test("gets hugepages, pinning and its boot order through the tune key, pinned to the node's host key, after the VM exists", () => {
        // The env token is refused these options (qemu-server: root@pam only; startup needs Sys.Modify on /).
        expect(input(vm, "startup")).toBeUndefined();
        const tune = byName(seed.private.graph.resources, "private-ai-tune");
        expect(tune.type).toBe(TYPES.command);
        expect(tune.inputs.create).toBe("set 101 --hugepages 1024 --keephugepages 1 --affinity 0-7 --startup order=2,up=30 --start 1");
        // its connection (host key pinned) is checked in tests/access.test.ts: the plan shows it as [secret]
        expect(tune.dependencies).toContain(vm.urn);
    });

    test("boots the host stack's cloud image from the private pool and attaches the holder's data disk, backed up through this VM", () => {
        const [os, data] = input(vm, "disks") as Record<string, unknown>[];
        expect(os).toMatchObject({ interface: "scsi0", datastoreId: "tank-private", importFrom: "local:import/ubuntu-24.04-server-cloudimg-amd64.qcow2", iothread: true, discard: "on", ssd: true, size: 64, backup: false });
        expect(data).toMatchObject({ interface: "scsi1", datastoreId: "tank-private", pathInDatastore: "vm-150-disk-0", backup: true, size: 400 });
    });

    test("has a static IP on the private bridge, the agent, onBoot and stopOnDestroy", () => {
        expect(input(vm, "initialization.ipConfigs")).toEqual([{ ipv4: { address: "10.10.10.10/24", gateway: "10.10.10.1" } }]);
        // Native cloud-init only: the user and keys, no user-data snippet.
        expect(input(vm, "initialization.userDataFileId")).toBeUndefined();
        expect(input(vm, "initialization.userAccount")).toEqual({ username: "ai", keys: [expect.stringMatching(/^ssh-ed25519 /)] });
        expect(input(vm, "networkDevices")).toEqual([{ bridge: "vmbr10", model: "virtio", firewall: true }]);
        expect(vm.inputs).toMatchObject({ onBoot: true, stopOnDestroy: true, agent: { enabled: true, trim: true } });
    });

    test("takes its ignoreChanges from the quirks catalogue and is deleted before it is replaced", () => {
        expect(vm.options.ignoreChanges).toEqual(["cpu.affinity", "disks[0].speed", "disks[1].size", "disks[1].speed", "hostpcis", "initialization.userAccount", "memory.hugepages", "memory.keepHugepages", "started", "startup", "vga"]);
        expect(vm.options.deleteBeforeReplace).toBe(true);
        // The VM itself is rebuildable; its data is in the holder.
        expect(vm.options.protect).toBe(false);
    });

    test("keeps its data on a protected holder VM that is never started", () => {
        const holder = byName(seed.private.graph.resources, "private-ai-data");
        expect(holder.inputs).toMatchObject({ vmId: 150, started: false, onBoot: false, protection: true });
        // Never backed up from the stopped holder (a paused QEMU on a disk the AI VM writes).
        expect(input(holder, "disks")).toEqual([expect.objectContaining({ interface: "scsi0", datastoreId: "tank-private", size: 400, backup: false })]);
        expect(holder.options).toMatchObject({ protect: true, retainOnDelete: true });
        expect(vm.dependencies).toContain(holder.urn);
    });
});

describe("the public AI VM", () => {
    test("maps the 3060's mapping with the public tuning", () => {
        const vm = byName(seed.public.graph.resources, "public-ai-vm");
        expect(input(vm, "hostpcis")).toEqual([{ device: "hostpci0", mapping: "public-gpu", pcie: true, rombar: true }]);
        expect(vm.inputs).toMatchObject({ machine: "q35", bios: "ovmf", vmId: 201 });
        expect(input(vm, "memory")).toEqual({ dedicated: 24 * 1024, floating: 0 });
        expect(byName(seed.public.graph.resources, "public-ai-tune").inputs.create).toBe("set 201 --hugepages 1024 --keephugepages 1 --affinity 8-15 --startup order=2,up=30 --start 1");
    });

    test("without hugepages or pinning it sets neither", async () => {
        const e = await evaluate("public", (c) => {
            const vm = c["ai-dualstack:aiVm"] as Record<string, unknown>;
            vm.hugepages = "none";
            delete vm.cpuAffinity;
        });
        const vm = byName(e.graph.resources, "public-ai-vm");
        expect(input(vm, "memory")).toEqual({ dedicated: 24 * 1024, floating: 0 });
        expect(input(vm, "cpu.affinity")).toBeUndefined();
        expect(byName(e.graph.resources, "public-ai-tune").inputs.create).toBe("set 201 --hugepages none --affinity none --startup order=2,up=30 --start 1");
    });
});

describe.each([["private", () => seed.private, 6], ["public", () => seed.public, 3]])("%s service containers", (env, get, count) => {
    test(`are the ${count} configured LXCs, all unprivileged with an explicit disk and a data mount point`, () => {
        const cts = ofType(get().graph.resources, TYPES.container);
        expect(cts).toHaveLength(count);
        for (const ct of cts) {
            expect(ct.inputs).toMatchObject({ unprivileged: true, startOnBoot: true, protection: true });
            expect(input(ct, "disk.datastoreId")).toBe(`tank-${env}`);
            expect(input(ct, "mountPoints")).toEqual([expect.objectContaining({ volume: `tank-${env}`, backup: true })]);
            expect(input(ct, "networkInterfaces")).toEqual([{ name: "eth0", bridge: env === "private" ? "vmbr10" : "vmbr20", firewall: true }]);
            expect(ct.options).toMatchObject({ protect: true, retainOnDelete: true });
            // force-new attributes that must never replace a protected container (quirks catalogue)
            expect(ct.options.ignoreChanges).toEqual(expect.arrayContaining(["initialization.userAccount", "poolId"]));
            expect(input(ct, "operatingSystem.templateFileId")).toBe("local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst");
        }
    });

    test("every Debian 12 container has nesting (systemd 252); only the CI runner gets keyctl (Docker), through the tune key", () => {
        const { graph, config } = get();
        const containers = ofType(graph.resources, TYPES.container);
        expect(containers.filter((ct) => input(ct, "features.nesting") !== true).map((ct) => ct.name)).toEqual([]);
        // The token may not send keyctl (root@pam only): never in the resource, ignored when read back.
        expect(containers.filter((ct) => input(ct, "features.keyctl") !== undefined).map((ct) => ct.name)).toEqual([]);
        expect(containers.every((ct) => ct.options.ignoreChanges.includes("features.keyctl"))).toBe(true);
        const keyctl = ofType(graph.resources, TYPES.command).filter((c) => c.name.endsWith("-keyctl"));
        expect(keyctl.map((c) => [c.name, input(c, "create")])).toEqual(env === "private" ? [["private-ci-keyctl", "keyctl 113"]] : []);
        for (const k of keyctl) {
            const ct = config.containers.find((c) => `${c.name}-keyctl` === k.name);
            expect(k.dependencies).toContain(byName(graph.resources, `${ct?.name}-ct`).urn);
            // the container's first contact waits for it (the container reboots with keyctl)
            expect(byName(graph.resources, `${ct?.name}-provision-host-key`).dependencies).toContain(k.urn);
        }
    });

    test("every guest has its firewall on with input DROP", () => {
        const options = ofType(get().graph.resources, TYPES.firewallOptions);
        expect(options).toHaveLength(count + 1);
        for (const o of options) {
            expect(o.inputs).toMatchObject({ enabled: true, inputPolicy: "DROP" });
        }
    });
});

describe("parallelism and identity", () => {
    test.each([["private", () => seed.private], ["public", () => seed.public]])("no %s guest waits on another guest (the AI VM only on its own data holder)", (env, get) => {
        const all = guests(get());
        const guestUrns = new Set(all.map((g) => g.urn));
        const holder = byName(all, `${env}-ai-data`).urn;
        for (const g of all) {
            const waitsOn = [...transitiveDependencies(get().graph.resources, g.urn)].filter((u) => guestUrns.has(u));
            expect({ guest: g.name, waitsOn }).toEqual({ guest: g.name, waitsOn: g.name === `${env}-ai-vm` ? [holder] : [] });
        }
    });

    test("guests wait on nothing of the host stack in this graph: they name its objects and the preflight checks them", () => {
        const r = seed.private.graph.resources;
        const vmDeps = [...transitiveDependencies(r, byName(r, "private-ai-vm").urn)].map((u) => u.split("::").pop()).sort();
        expect(vmDeps).toEqual(["private-ai-data"]);
        const dbDeps = [...transitiveDependencies(r, byName(r, "private-db-ct").urn)].map((u) => u.split("::").pop()).sort();
        expect(dbDeps).toEqual([]);
    });

    test.each([["private", () => seed.private, 100, 199, "10.10.10."], ["public", () => seed.public, 200, 299, "10.20.20."]])("%s VMIDs and IPs are unique and inside the environment", (_env, get, lo, hi, net) => {
        const all = guests(get());
        const vmids = all.map((g) => Number(input(g, "vmId")));
        expect(new Set(vmids).size).toBe(vmids.length);
        vmids.forEach((id) => expect(id >= lo && id <= hi).toBe(true));
        const ips = all.flatMap((g) => (input(g, "initialization.ipConfigs") as { ipv4: { address: string } }[] | undefined ?? []).map((c) => c.ipv4.address));
        expect(new Set(ips).size).toBe(ips.length);
        ips.forEach((ip) => expect(ip.startsWith(net)).toBe(true));
    });
});

describe("the graph scales out, not up", () => {
    test("more guests make the graph wider, never longer: the critical path stays the same", async () => {
        const { scaledSection } = await import("../tools/bench");
        const { fromConfigSection } = await import("../tools/lib/stackFile");
        const { evaluateStack } = await import("../tools/lib/evaluate");
        const { graphShape } = await import("../tools/lib/graphMetrics");
        const shape = async (n: number) => graphShape((await evaluateStack({ stack: "private", file: fromConfigSection(scaledSection(n)) })).graph);
        const small = await shape(6);
        const large = await shape(30);
        expect(large.criticalPath).toBe(small.criticalPath);
        expect(large.widestLevel).toBeGreaterThanOrEqual(small.widestLevel + 24);
        expect(graphShape(seed.private.graph).criticalPath).toBe(small.criticalPath);
    });
});
