/**
 * The mock runtime's side of the offline evaluation: what a provider would answer for each
 * resource and invoke. A resource's state is its inputs plus what the provider computes that
 * the program reads back (disk paths, generated secrets); `hardware.getPci` answers from a
 * PCI inventory; the host stack's objects are there (or not) as an environment's preflight
 * asks for them.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { CLUSTER_CA_REQUEST } from "../../../components/access/vmTune";
import { text } from "../../../graph";
import type { PciInventory } from "../inventory";

/** Sees each resource's inputs as the engine would receive them, secrets unwrapped; may add to its state. */
export type OnMockResource = (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> | void;

/**
 * The mock runtime's answers: a resource's state is its inputs (plus the disk paths the
 * provider computes for a VM), `hardware.getPci` answers from the inventory, and every
 * resource's provider reference is noted in `providers` (`type::name` -> provider URN).
 */
export function offlineMocks(
    inventory: PciInventory,
    providers: Map<string, string> = new Map(),
    onMockResource?: OnMockResource,
    /** whether the host stack's objects exist (an environment's preflight asks for them) */
    hostObjectsPresent = true,
): pulumi.runtime.Mocks {
    return {
        newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
            const inputs = args.inputs as Record<string, unknown>;
            // A test may add to what the provider reports back (a command's stdout, say).
            const extra = onMockResource?.(args) ?? {};
            if (args.provider) {
                providers.set(`${args.type}::${args.name}`, args.provider.split("::").slice(0, -1).join("::"));
            }
            return { id: `${args.name}-id`, state: { ...mockState(args.type, inputs, args.name), ...extra } };
        },
        call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
            const inputs = args.inputs as Record<string, unknown>;
            if (args.token === "proxmoxve:hardware/getPci:getPci") {
                return { ...inputs, devices: inventory(text(inputs.nodeName)) };
            }
            // An environment's preflight asks for the host stack's objects.
            if (HOST_OBJECT_INVOKES.has(args.token)) {
                if (!hostObjectsPresent) {
                    throw new Error(`${args.token}: not found (offline plan with the host stack not run)`);
                }
                return hostObjectAnswer(args.token, inputs);
            }
            throw new Error(`the offline plan has no answer for invoke ${args.token}`);
        },
    };
}

const HOST_OBJECT_INVOKES = new Set([
    "proxmoxve:index/getPoolLegacy:getPoolLegacy",
    "proxmoxve:hardware/mapping/getPci:getPci",
    "proxmoxve:index/getDatastores:getDatastores",
]);

/** What Proxmox answers once the host stack has built the pool, mapping and storage. */
function hostObjectAnswer(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
    if (token === "proxmoxve:index/getDatastores:getDatastores") {
        const filters = inputs.filters !== null && typeof inputs.filters === "object" ? inputs.filters as Record<string, unknown> : {};
        return { ...inputs, datastores: [{ id: text(filters.id ?? ""), nodeName: String(inputs.nodeName), type: "zfspool", contentTypes: ["images", "rootdir"] }] };
    }
    if (token === "proxmoxve:hardware/mapping/getPci:getPci") {
        return { ...inputs, id: String(inputs.name), comment: "", maps: [], mediatedDevices: false };
    }
    return { ...inputs, comment: "", members: [] };
}

/** What the offline plan answers for the cluster CA (tools/lib/offline/stand-in-cluster-ca.pem). */
export const STAND_IN_CLUSTER_CA = path.join(__dirname, "stand-in-cluster-ca.pem");

/** Stand-in prefix for a generated secret offline: tests check it never appears in the plan in plain text. */
export const MOCK_GENERATED_SECRET = "offline-generated-secret";

/** What the provider computes on create that the program reads back: VM disk paths, generated secrets. */
function mockState(type: string, inputs: Record<string, unknown>, name = ""): Record<string, unknown> {
    // Random values are known offline, fixed per resource name (so two passwords differ and a
    // test can tell whose leaked), and every value built from them must stay secret.
    if (type === "random:index/randomPassword:RandomPassword") {
        return { ...inputs, result: `${MOCK_GENERATED_SECRET}-${name.replace(/[^A-Za-z0-9]/g, "")}` };
    }
    if (type === "random:index/randomBytes:RandomBytes") {
        const bytes = Buffer.alloc(Number(inputs.length ?? 32));
        Buffer.from(name).copy(bytes);
        return { ...inputs, base64: bytes.toString("base64"), hex: bytes.toString("hex") };
    }
    if (type === "tls:index/privateKey:PrivateKey") {
        // A stand-in key pair: the public half in OpenSSH form (what root's authorized_keys
        // gets), the private half the generated secret the plan must never show.
        const stem = Buffer.from(text(inputs.algorithm ?? "")).toString("base64").replace(/=+$/, "");
        return { ...inputs, publicKeyOpenssh: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOffline${stem}\n`, privateKeyOpenssh: `${MOCK_GENERATED_SECRET}-ssh-key` };
    }
    if (type === "command:remote:Command" && inputs.create === CLUSTER_CA_REQUEST) {
        // The tune key's `ca` request prints /etc/pve/pve-root-ca.pem: a stand-in CA made as
        // pve-cluster makes one (CA:TRUE, keyCertSign), so the plan runs the same checks.
        return { ...inputs, stdout: fs.readFileSync(STAND_IN_CLUSTER_CA, "utf8"), stderr: "" };
    }
    if (type === "proxmoxve:user/token:Token") {
        return { ...inputs, value: `${String(inputs.userId)}!${String(inputs.tokenName)}=${MOCK_GENERATED_SECRET}` };
    }
    if (type === "proxmoxve:index/vmLegacy:VmLegacy" && Array.isArray(inputs.disks)) {
        const vmId = String(inputs.vmId);
        return {
            ...inputs,
            disks: inputs.disks.map((disk: unknown, i: number) => {
                const d = (disk !== null && typeof disk === "object" ? disk : {}) as Record<string, unknown>;
                return { ...d, pathInDatastore: d.pathInDatastore ?? `vm-${vmId}-disk-${i}` };
            }),
        };
    }
    return inputs;
}
