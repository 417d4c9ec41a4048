/**
 * Every policy passes on what the program really builds and fails when its rule is
 * broken, either in the stack config or in a minimal resource.
 */
import { Secret } from "@pulumi/policy";
import { evaluate, evaluateHost, key } from "../../tests/helpers";
import type { PlanGraph } from "../../graph";
import { runPolicies, stackViewOf } from "../offline";
import { secretsRemediation, POLICIES } from "../pack";
import { RULES } from "../rules";
import { isPinned } from "../rules/images";
import type { PolicyResource, StackView } from "../rules/model";
import { wrapPlainSecrets } from "../rules/secrets";
import { packDefaults } from "../settings";
import { MONITORING_RULE } from "../../components/ops/firewallProfiles";
import type { EnvironmentIdentity } from "../rules/isolation";

let privateGraph: PlanGraph;
let publicGraph: PlanGraph;

beforeAll(async () => {
    privateGraph = (await evaluate("private")).graph;
    publicGraph = (await evaluate("public")).graph;
});

function run(policy: string, stack: StackView, given: Record<string, unknown> = packDefaults()[policy] ?? {}) {
    const rule = RULES.find((r) => r.name === policy);
    if (!rule) throw new Error(`no policy ${policy}`);
    return rule.run(stack, given).map((f) => f.message);
}

/** The stack view of a graph with one resource's props (or protect) changed. */
function changed(graph: PlanGraph, name: string, change: (r: { props: Record<string, unknown>; protect: boolean }) => void): StackView {
    const view = stackViewOf(graph);
    const copy = JSON.parse(JSON.stringify(view)) as { resources: PolicyResource[]; environment: string | undefined };
    const target = copy.resources.find((r) => r.name === name);
    if (!target) throw new Error(`no resource ${name}`);
    const mutable = target as { props: Record<string, unknown>; protect: boolean };
    change(mutable);
    return copy;
}

const minimal = (resources: Partial<PolicyResource>[], environment = "public"): StackView => ({
    environment,
    resources: resources.map((r, i) => ({ urn: `urn:pulumi:test::ai-dualstack::t::r${i}`, type: "t", name: `r${i}`, props: {}, protect: false, ...r })),
});

test("the two committed environment stacks pass every policy", () => {
    expect(runPolicies(privateGraph)).toEqual([]);
    expect(runPolicies(publicGraph)).toEqual([]);
});

describe("gpu-mapping-exclusive", () => {
    test("fails when a second VM uses the same mapping", () => {
        const view = stackViewOf(privateGraph);
        const vm = view.resources.find((r) => r.name === "private-ai-vm") as PolicyResource;
        const second = { ...vm, urn: `${vm.urn}-2`, name: "private-ai-vm-2" };
        expect(run("gpu-mapping-exclusive", { ...view, resources: [...view.resources, second] }))
            .toEqual(["PCI mapping private-gpu is used by 2 VMs (private-ai-vm, private-ai-vm-2); a GPU can be passed to only one VM"]);
    });
});

describe("gpu-vm-settings", () => {
    test("names every setting a GPU VM gets wrong", () => {
        const view = changed(privateGraph, "private-ai-vm", (r) => {
            Object.assign(r.props, { machine: "pc", bios: "seabios", cpu: { type: "kvm64" }, memory: { dedicated: 1024, floating: 1024 } });
            r.props.hostpcis = [{ device: "hostpci0", id: "0000:01:00.0", pcie: false }];
        });
        expect(run("gpu-vm-settings", view)).toEqual([
            "GPU VM private-ai-vm: machine is pc, needs q35",
            "GPU VM private-ai-vm: bios is seabios, needs ovmf",
            "GPU VM private-ai-vm: CPU type is kvm64, needs host",
            "GPU VM private-ai-vm: ballooning is on (memory.floating must be 0)",
            "GPU VM private-ai-vm: hostpcis[0] uses the raw PCI id 0000:01:00.0; use a PCI mapping",
            "GPU VM private-ai-vm: hostpcis[0] has no mapping",
            "GPU VM private-ai-vm: hostpcis[0] has PCIe off",
        ]);
    });
});

describe("environment-isolation", () => {
    test("fails when the public stack is given the private GPU mapping", async () => {
        const { graph } = await evaluate("public", (c) => { key(c, "gpu").mappingName = "private-gpu"; });
        expect(run("environment-isolation", stackViewOf(graph))).toEqual([
            "public stack: public-ai-vm names private-gpu (the private GPU mapping)",
        ]);
    });

    test("fails the other way round too: private on the public bridge, VLAN and VMIDs", async () => {
        const { graph } = await evaluate("private", (c) => {
            key(c, "network").bridge = "vmbr20";
            key(c, "network").vlanId = 20;
        });
        const messages = run("environment-isolation", stackViewOf(graph));
        expect(messages).toContain("private stack: private-ai-vm names vmbr20 (the public bridge)");
        expect(messages).toContain("private stack: private-db-ct names vmbr20 (the public bridge)");
    });

    test("addresses and VMIDs of the other side are found wherever they are; the allow list lets one through", () => {
        const view = changed(publicGraph, "public-db-firewall-rules", (r) => {
            (r.props.rules as Record<string, unknown>[]).push({ type: "in", action: "ACCEPT", source: "10.10.10.24/32" });
        });
        expect(run("environment-isolation", view)).toEqual(["public stack: public-db-firewall-rules names 10.10.10.24/32 (an address in the private subnet 10.10.10.0/24)"]);
        expect(run("environment-isolation", view, { ...packDefaults()["environment-isolation"], allow: ["10.10.10.24/32"] })).toEqual([]);
        const guest = changed(publicGraph, "public-db-ct", (r) => { r.props.vmId = 150; });
        expect(run("environment-isolation", guest)).toEqual(["public stack: public-db-ct names 150 (a VMID in the private range 100-199)"]);
        // An address inside a URL (an app's setting) counts too.
        const url = changed(publicGraph, "public-db-firewall-rules", (r) => { r.props.comment = "see http://10.10.10.10:8001/docs"; });
        expect(run("environment-isolation", url)).toEqual(["public stack: public-db-firewall-rules names 10.10.10.10 (an address in the private subnet 10.10.10.0/24)"]);
    });
});

describe("environment-isolation: the one named monitoring allowance", () => {
    const MONITORING = "10.10.10.24";
    const identities = () => (packDefaults()["environment-isolation"] as { environments: EnvironmentIdentity[] }).environments;
    const rulesOf = (name: string) => publicGraph.resources.find((r) => r.name === name)?.inputs.rules as Record<string, unknown>[];

    test("passes: every public guest admits its exporters from the private monitoring container in the named rule, and nothing else private", () => {
        for (const guest of ["public-ai", "public-db", "public-cache", "public-proxy"]) {
            const named = rulesOf(`${guest}-firewall-rules`).filter((r) => String(r.comment).startsWith(`${MONITORING_RULE}:`));
            expect(named).toEqual([expect.objectContaining({ type: "in", action: "ACCEPT", source: MONITORING })]);
        }
        expect(run("environment-isolation", stackViewOf(publicGraph))).toEqual([]);
        // The identity the allowance is checked against comes from the private stack file.
        expect(identities().find((e) => e.environment === "private")?.monitoringSource).toBe(MONITORING);
    });

    test("fails: another private address, even in a rule with the allowance's name", () => {
        const other = changed(publicGraph, "public-db-firewall-rules", (r) => {
            (r.props.rules as Record<string, unknown>[]).push({ type: "in", action: "ACCEPT", proto: "tcp", dport: "9100", source: "10.10.10.10", comment: `${MONITORING_RULE}: exporters, from the monitoring container only`, enabled: true });
        });
        expect(run("environment-isolation", other)).toEqual(["public stack: public-db-firewall-rules names 10.10.10.10 (an address in the private subnet 10.10.10.0/24)"]);
        // the monitoring address widened to the private subnet
        const widened = changed(publicGraph, "public-db-firewall-rules", (r) => {
            (r.props.rules as Record<string, unknown>[]).forEach((rule) => { if (rule.source === MONITORING) rule.source = "10.10.10.0/24"; });
        });
        expect(run("environment-isolation", widened)).toEqual(["public stack: public-db-firewall-rules names 10.10.10.0/24 (an address in the private subnet 10.10.10.0/24)"]);
    });

    test("fails: the named rule opening more than exporter ports over tcp to the monitoring address", () => {
        const finding = ["public stack: public-db-firewall-rules names 10.10.10.24 (an address in the private subnet 10.10.10.0/24)"];
        const widen = (change: (rule: Record<string, unknown>) => void) => changed(publicGraph, "public-db-firewall-rules", (r) => {
            (r.props.rules as Record<string, unknown>[]).forEach((rule) => { if (rule.source === MONITORING) change(rule); });
        });
        expect(run("environment-isolation", widen((rule) => { rule.dport = `${String(rule.dport)},5432`; }))).toEqual(finding);
        expect(run("environment-isolation", widen((rule) => { rule.dport = "1:65535"; }))).toEqual(finding);
        expect(run("environment-isolation", widen((rule) => { delete rule.dport; }))).toEqual(finding);
        expect(run("environment-isolation", widen((rule) => { rule.proto = "udp"; }))).toEqual(finding);
        expect(run("environment-isolation", widen((rule) => { delete rule.proto; }))).toEqual(finding);
        // the rule as the program writes it passes (tcp, 9100 and 9187 here)
        expect(rulesOf("public-db-firewall-rules").find((r) => r.source === MONITORING)).toMatchObject({ proto: "tcp", dport: "9100,9187" });
    });

    test("fails: the monitoring address outside the named inbound rule", () => {
        const renamed = changed(publicGraph, "public-cache-firewall-rules", (r) => {
            (r.props.rules as Record<string, unknown>[]).forEach((rule) => { if (rule.source === MONITORING) rule.comment = "metrics"; });
        });
        expect(run("environment-isolation", renamed)).toEqual(["public stack: public-cache-firewall-rules names 10.10.10.24 (an address in the private subnet 10.10.10.0/24)"]);
        const outbound = changed(publicGraph, "public-cache-firewall-rules", (r) => {
            (r.props.rules as Record<string, unknown>[]).push({ type: "out", action: "ACCEPT", dest: MONITORING, source: MONITORING, comment: `${MONITORING_RULE}: out`, enabled: true });
        });
        expect(run("environment-isolation", outbound)).toEqual(["public stack: public-cache-firewall-rules names 10.10.10.24 (an address in the private subnet 10.10.10.0/24)"]);
        // without the private identity's monitoring address, nothing is allowed
        const noMonitoring = { ...packDefaults()["environment-isolation"], environments: identities().map((e) => ({ ...e, monitoringSource: undefined })) };
        expect(run("environment-isolation", stackViewOf(publicGraph), noMonitoring)).toEqual([
            "public stack: public-ai-firewall-rules names 10.10.10.24 (an address in the private subnet 10.10.10.0/24)",
            "public stack: public-cache-firewall-rules names 10.10.10.24 (an address in the private subnet 10.10.10.0/24)",
            "public stack: public-db-firewall-rules names 10.10.10.24 (an address in the private subnet 10.10.10.0/24)",
            "public stack: public-proxy-firewall-rules names 10.10.10.24 (an address in the private subnet 10.10.10.0/24)",
        ]);
    });
});

describe("stateful-protected", () => {
    test("fails for an unprotected data holder, pool or data container", () => {
        const unprotected = new Set(["public-ai-data", "public-db-ct"]);
        const view = stackViewOf({
            ...publicGraph,
            resources: publicGraph.resources.map((r) => (unprotected.has(r.name) ? { ...r, options: { ...r.options, protect: false } } : r)),
        });
        expect(run("stateful-protected", view)).toEqual([
            "VM owning a data disk public-ai-data is not protected: a destroy or replacement would delete its data (set protect)",
            "container with a data mount point public-db-ct is not protected: a destroy or replacement would delete its data (set protect)",
        ]);
        expect(run("stateful-protected", minimal([{ type: "proxmoxve:node/disk/zfs:Zfs", name: "tank" }]))).toEqual([
            "ZFS pool tank is not protected: a destroy or replacement would delete its data (set protect)",
        ]);
    });

    test("a VM whose disks are only the OS image and attached data is not stateful itself", () => {
        expect(run("stateful-protected", stackViewOf(publicGraph))).toEqual([]);
        expect(stackViewOf(publicGraph).resources.find((r) => r.name === "public-ai-vm")?.protect).toBe(false);
    });
});

describe("secrets-are-secret", () => {
    test("fails for a plain password, token or private key, and passes masked ones", () => {
        const view = minimal([
            { name: "ct", props: { initialization: { userAccount: { password: "hunter2" } } } },
            { name: "prov", props: { apiToken: "root@pam!t=x", ssh: { privateKey: "-----BEGIN" } } },
            { name: "ok", props: { password: "[secret]", connection: "[secret]" } },
        ]);
        expect(run("secrets-are-secret", view)).toEqual([
            "ct.initialization.userAccount.password is a secret-bearing input given in plain text; take it from pulumi config --secret or @pulumi/random, or wrap it in pulumi.secret()",
            "prov.apiToken is a secret-bearing input given in plain text; take it from pulumi config --secret or @pulumi/random, or wrap it in pulumi.secret()",
            "prov.ssh.privateKey is a secret-bearing input given in plain text; take it from pulumi config --secret or @pulumi/random, or wrap it in pulumi.secret()",
        ]);
    });

    test("under the CLI the pack remediates: plain secret-bearing inputs become secrets", () => {
        const remediate = secretsRemediation.remediateResource;
        if (!remediate) throw new Error("no remediation");
        const already = new Secret("kept");
        const args = { props: { connection: { host: "10.0.0.1", privateKey: "PEM" }, password: already } } as unknown as Parameters<typeof remediate>[0];
        const result = remediate(args) as Record<string, Record<string, unknown>>;
        expect(result.connection.privateKey).toBeInstanceOf(Secret);
        expect((result.connection.privateKey as Secret).value).toBe("PEM");
        expect(result.connection.host).toBe("10.0.0.1");
        expect(result.password).toBe(already);
        expect(wrapPlainSecrets({ a: 1 }, () => false, (v) => v).wrapped).toBe(0);
    });
});

describe("images-pinned", () => {
    test("fails for an untagged or latest workload image", () => {
        let view = changed(privateGraph, "private-ollama-image", (r) => { r.props.name = "ollama/ollama"; });
        view = { ...view, resources: view.resources.map((r) => r.name === "private-qdrant-image" ? { ...r, props: { ...r.props, name: "qdrant/qdrant:latest" } } : r) };
        expect(run("images-pinned", view)).toEqual([
            "private-ollama-image (name) uses image ollama/ollama without a pinned tag; name a version like ollama/ollama:0.9.6",
            "private-qdrant-image (name) uses image qdrant/qdrant:latest without a pinned tag; name a version like ollama/ollama:0.9.6",
        ]);
    });

    test("the workbench image built from this repository carries a content tag", () => {
        const built = stackViewOf(privateGraph).resources.filter((r) => r.type === "docker:index/image:Image");
        expect(built.map((r) => r.props.imageName)).toEqual([expect.stringMatching(/^ai-dualstack\/rag-workbench:[0-9a-f]{12}$/)]);
        const view = changed(privateGraph, "private-workbench-image", (r) => { r.props.imageName = "ai-dualstack/rag-workbench"; });
        expect(run("images-pinned", view)).toHaveLength(1);
    });

    test("reads Docker provider resources too, and knows tags from registry ports", () => {
        const view = minimal([{ type: "docker:index/container:Container", name: "web", props: { image: "nginx" } }]);
        expect(run("images-pinned", view)).toHaveLength(1);
        expect(isPinned("registry.lan:5000/app")).toBe(false);
        expect(isPinned("registry.lan:5000/app:1.2")).toBe(true);
        expect(isPinned(`app@sha256:${"a".repeat(64)}`)).toBe(true);
        expect(isPinned("app:latest")).toBe(false);
    });
});

describe("public-default-deny", () => {
    test("fails for a public guest with input ACCEPT or a NIC without firewall", () => {
        let view = changed(publicGraph, "public-proxy-firewall-options", (r) => { r.props.inputPolicy = "ACCEPT"; });
        const nicOff = changed(publicGraph, "public-ai-vm", (r) => { (r.props.networkDevices as Record<string, unknown>[])[0].firewall = false; });
        expect(run("public-default-deny", view)).toEqual(["public guest public-proxy-ct: input policy is ACCEPT, needs DROP"]);
        expect(run("public-default-deny", nicOff)).toEqual(["public guest public-ai-vm: NIC 0 has firewall off, so no rule applies"]);
        view = { ...view, resources: view.resources.filter((r) => r.name !== "public-db-firewall-options") };
        expect(run("public-default-deny", view)).toContain("public guest public-db-ct: has no firewall options (enabled, input and output DROP)");
        const open = changed(publicGraph, "public-ai-firewall-options", (r) => { r.props.outputPolicy = "ACCEPT"; });
        expect(run("public-default-deny", open)).toEqual(["public guest public-ai-vm: output policy is ACCEPT, needs DROP (out only to its subnet, DNS and the internet)"]);
    });

    test("does not apply to the private environment unless configured", () => {
        const view = changed(privateGraph, "private-db-firewall-options", (r) => { r.props.inputPolicy = "ACCEPT"; });
        expect(run("public-default-deny", view)).toEqual([]);
        expect(run("public-default-deny", view, { environments: ["public", "private"] })).toContain("private guest private-db-ct: input policy is ACCEPT, needs DROP");
    });
});

describe("backup-coverage", () => {
    const jobs = (vmids: number[]) => ({ jobs: [{ environment: "public", vmids }] });

    test("the host stack's jobs cover the public guests: the containers, and the data disk through the AI VM", () => {
        expect(run("backup-coverage", stackViewOf(publicGraph))).toEqual([]);
        expect(packDefaults()["backup-coverage"]).toEqual({ jobs: [{ environment: "private", vmids: [101, 110, 111, 112, 113, 114, 115] }, { environment: "public", vmids: [201, 210, 211, 212] }] });
    });

    test("fails for a container no job names, and for a mount point with backup off", () => {
        expect(run("backup-coverage", stackViewOf(publicGraph), jobs([201, 210, 211]))).toEqual(["stateful guest public-proxy-ct (VMID 212) is in no enabled backup job"]);
        const off = changed(publicGraph, "public-db-ct", (r) => { (r.props.mountPoints as Record<string, unknown>[])[0].backup = false; });
        expect(run("backup-coverage", off)).toEqual(["container public-db-ct: mount point /var/lib/postgresql has backup off, so vzdump skips its data"]);
    });

    test("fails when the data holder is in a job, or its disk is not backed up through the AI VM", () => {
        expect(run("backup-coverage", stackViewOf(publicGraph), jobs([201, 210, 211, 212, 250]))).toEqual([
            "data holder public-ai-data (VMID 250) is in a backup job: vzdump would start it on the disk the running VM writes; back the disk up through that VM instead",
        ]);
        const flagOff = changed(publicGraph, "public-ai-vm", (r) => { (r.props.disks as Record<string, unknown>[])[1].backup = false; });
        expect(run("backup-coverage", flagOff)).toEqual([
            "the data disk of public-ai-data (VMID 250) is backed up by no job: the VM attaching it needs backup on for that disk and must be in an enabled job",
        ]);
        expect(run("backup-coverage", stackViewOf(publicGraph), jobs([210, 211, 212]))).toHaveLength(1);
        const noAgent = changed(publicGraph, "public-ai-vm", (r) => { r.props.agent = { enabled: false }; });
        expect(run("backup-coverage", noAgent)).toEqual(["public-ai-vm backs up a data disk in snapshot mode without the guest agent: no fs-freeze, so the copy is only crash-consistent"]);
    });

    test("a job in the graph counts too (all, with excludes)", () => {
        const view = stackViewOf(publicGraph);
        const job = { urn: "urn:pulumi:t::p::proxmoxve:backup/job:Job::j", type: "proxmoxve:backup/job:Job", name: "j", protect: false, props: { enabled: true, all: true, excludes: ["212", "250"] } };
        expect(run("backup-coverage", { ...view, resources: [...view.resources, job] }, jobs([]))).toEqual(["stateful guest public-proxy-ct (VMID 212) is in no enabled backup job"]);
    });
});

describe("cluster-firewall-enforced and host-objects-in-host-stack", () => {
    let hostGraph: PlanGraph;
    beforeAll(async () => {
        hostGraph = (await evaluateHost()).graph;
    });

    test("the host stack passes with no node rules of its own; an off switch, an ACCEPT input policy or a node rule from anywhere fail", () => {
        expect(runPolicies(hostGraph)).toEqual([]);
        const off = changed(hostGraph, "host-firewall-options", (r) => { Object.assign(r.props, { enabled: false, inputPolicy: "ACCEPT" }); });
        expect(run("cluster-firewall-enforced", off)).toEqual([
            "the cluster firewall is not enabled: every guest rule is inert",
            "the cluster input policy is ACCEPT, needs DROP",
        ]);
        // Node access is pve-firewall's built-in management rules: the stack adds no node rules.
        expect(stackViewOf(hostGraph).resources.filter((r) => r.type === "proxmoxve:firewall/rulesLegacy:RulesLegacy" && r.props.nodeName !== undefined && r.props.vmId === undefined && r.props.containerId === undefined)).toEqual([]);
        const nodeRule = (rule: Record<string, unknown>): PolicyResource => ({ urn: "urn:pulumi:t::p::proxmoxve:firewall/rulesLegacy:RulesLegacy::n", type: "proxmoxve:firewall/rulesLegacy:RulesLegacy", name: "n", protect: false, props: { nodeName: "pve", rules: [{ type: "in", action: "ACCEPT", proto: "tcp", enabled: true, ...rule }] } });
        const withRule = (rule: Record<string, unknown>) => ({ ...stackViewOf(hostGraph), resources: [...stackViewOf(hostGraph).resources, nodeRule(rule)] });
        expect(run("cluster-firewall-enforced", withRule({ dport: "8006" }))).toEqual(["node pve admits port 8006 from anywhere, not only from the management IP set"]);
        expect(run("cluster-firewall-enforced", withRule({ dport: "22", source: "+dc/management" }))).toEqual([]);
        const gone = { ...stackViewOf(hostGraph), resources: stackViewOf(hostGraph).resources.filter((r) => r.type !== "proxmoxve:cluster/firewallLegacy:FirewallLegacy") };
        expect(run("cluster-firewall-enforced", gone)).toEqual(["no cluster firewall options: Proxmox ignores every guest rule while the datacenter firewall is off (its default)"]);
    });

    test("an environment stack holding a host-level resource fails", () => {
        const view = stackViewOf(publicGraph);
        const pool = stackViewOf(hostGraph).resources.find((r) => r.name === "public-storage-pool") as PolicyResource;
        expect(run("host-objects-in-host-stack", view)).toEqual([]);
        expect(run("host-objects-in-host-stack", { ...view, resources: [...view.resources, pool] }))
            .toEqual(["public stack holds public-storage-pool (proxmoxve:node/disk/zfs:Zfs), which belongs to the host stack"]);
    });
});

describe("unprivileged-containers", () => {
    test("a privileged container is mandatory in public and advisory in private (policy/config/<env>.json)", () => {
        const privileged = (graph: PlanGraph, name: string): PlanGraph => ({
            ...graph,
            resources: graph.resources.map((r) => (r.name === name ? { ...r, inputs: { ...r.inputs, unprivileged: false } } : r)),
        });
        expect(runPolicies(privileged(publicGraph, "public-db-ct"))).toEqual([
            expect.objectContaining({ policy: "unprivileged-containers", level: "mandatory", message: "container public-db-ct is privileged: root inside is root on the Proxmox host" }),
        ]);
        expect(runPolicies(privileged(privateGraph, "private-ci-ct"))).toEqual([
            expect.objectContaining({ policy: "unprivileged-containers", level: "advisory" }),
        ]);
    });
});

describe("container-hygiene", () => {
    test("fails for a container without restart policy, health check or log rotation, a plain secret, or data off the data disk", () => {
        const view = changed(publicGraph, "public-platform-container", (r) => {
            r.props.restart = "no";
            delete r.props.healthcheck;
            delete r.props.logOpts;
            (r.props.envs as string[]).push("WEBUI_ADMIN_PASSWORD=hunter2");
            (r.props.volumes as Record<string, unknown>[])[0].hostPath = "/var/lib/open-webui";
        });
        expect(run("container-hygiene", view)).toEqual([
            "container public-platform-container: restart policy is no",
            "container public-platform-container: has no health check",
            "container public-platform-container: has no log rotation (logOpts max-size)",
            "container public-platform-container: setting WEBUI_ADMIN_PASSWORD is given in plain text",
            "container public-platform-container: data directory platform is not mounted from the data disk",
        ]);
    });
});

describe("firewall-matches-workloads", () => {
    test("fails when the AI VM firewall opens a port no workload publishes, or misses one that is published", () => {
        const view = changed(privateGraph, "private-ai-firewall-rules", (r) => {
            const rules = r.props.rules as Record<string, unknown>[];
            r.props.rules = [...rules.filter((rule) => rule.dport !== "6333"), { type: "in", action: "ACCEPT", proto: "tcp", dport: "5000", source: "10.10.10.0/24" }];
        });
        expect(run("firewall-matches-workloads", view)).toEqual([
            "a workload publishes port 6333 but the private-ai-vm firewall does not open it",
            "the private-ai-vm firewall opens port 5000, which no workload publishes",
        ]);
    });
});

describe("backup-coverage through an attached disk", () => {
    test("the holder is covered only while the AI VM is in the job and backs its data disk up", () => {
        const uncovered = "the data disk of private-ai-data (VMID 150) is backed up by no job: the VM attaching it needs backup on for that disk and must be in an enabled job";
        expect(run("backup-coverage", stackViewOf(privateGraph))).toEqual([]);
        const off = changed(privateGraph, "private-ai-vm", (r) => { (r.props.disks as Record<string, unknown>[])[1].backup = false; });
        expect(run("backup-coverage", off)).toEqual([uncovered]);
        // The host stack's job (policy config, read from the stack files) without the AI VM.
        const withoutVm = { jobs: [{ environment: "private", vmids: [110, 111, 112, 113, 114, 115] }] };
        expect(run("backup-coverage", stackViewOf(privateGraph), withoutVm)).toEqual([uncovered]);
    });
});

describe("model-fits-vram", () => {
    test("advises when a configured model does not fit the GPU", async () => {
        const { graph } = await evaluate("public", (c) => {
            // Without allowCpuOffload this is a config error (tests/config.test.ts).
            (c["ai-dualstack:models"] as unknown[]).push({ name: "qwen2.5:32b", sizeGiB: 20, allowCpuOffload: true });
        });
        expect(runPolicies(graph)).toEqual([expect.objectContaining({
            policy: "model-fits-vram",
            level: "advisory",
            message: "model qwen2.5:32b (20 GiB + 15% headroom) does not fit the RTX 3060's 12 GiB; Ollama would spill to CPU and slow down (allowCpuOffload is set)",
        })]);
        expect(run("model-fits-vram", stackViewOf(graph), { headroomPercent: 0 })).toHaveLength(1);
    });
});

describe("the CrossGuard pack", () => {
    test("has every policy once, secrets as a remediation, isolation defaults from the stack files", () => {
        expect(POLICIES.map((p) => p.name).sort()).toEqual(RULES.map((r) => r.name).sort());
        expect(POLICIES.find((p) => p.name === "secrets-are-secret")?.enforcementLevel).toBe("remediate");
        const isolation = POLICIES.find((p) => p.name === "environment-isolation");
        const envs = isolation?.configSchema?.properties.environments.default as { environment: string }[];
        expect(envs.map((e) => e.environment)).toEqual(["private", "public"]);
    });

    test("a stack validation reports through CrossGuard what the offline check finds", async () => {
        const policy = POLICIES.find((p) => p.name === "environment-isolation");
        if (!policy || !("validateStack" in policy)) throw new Error("no stack policy");
        const { graph } = await evaluate("public", (c) => { key(c, "gpu").mappingName = "private-gpu"; });
        const reported: [string, string | undefined][] = [];
        const args = {
            resources: graph.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, props: r.inputs, opts: { protect: r.options.protect } })),
            getConfig: () => ({}),
        } as unknown as Parameters<typeof policy.validateStack>[0];
        await policy.validateStack(args, (message, urn) => reported.push([message, urn]));
        expect(reported.map(([m]) => m)).toEqual([
            "public stack: public-ai-vm names private-gpu (the private GPU mapping)",
        ]);
    });
});
