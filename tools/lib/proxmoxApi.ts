/**
 * The restore drill's real API layer: the Proxmox VE REST API (pve-docs api-viewer paths:
 * /nodes/{node}/storage/{storage}/content, /cluster/resources, POST /nodes/{node}/qemu
 * with `archive` or /nodes/{node}/lxc with `ostemplate` + `restore`, task status, ...)
 * and, for looking inside a container, `pct exec` over SSH to the node. Credentials come
 * from the environment under the names the Proxmox provider uses: PROXMOX_VE_API_TOKEN,
 * or PROXMOX_VE_PASSWORD for the configured user. Not exercised here (no Proxmox): the
 * drill's logic is tested against a fake of DrillApi.
 */
import { execFile } from "child_process";
import * as https from "https";
import type { StackConfig } from "../../config/schema";
import type { BackupArchive, DrillApi, GuestKind } from "./restoreDrill";

type Json = Record<string, unknown>;

export function proxmoxDrillApi(config: StackConfig, env: NodeJS.ProcessEnv = process.env): DrillApi {
    const base = new URL("api2/json/", config.proxmox.endpoint.endsWith("/") ? config.proxmox.endpoint : `${config.proxmox.endpoint}/`);
    const agent = new https.Agent({ rejectUnauthorized: !config.proxmox.insecure });
    let auth: Promise<Record<string, string>> | undefined;

    const call = (method: string, path: string, body?: Record<string, string | number>, headers: Record<string, string> = {}): Promise<unknown> => new Promise((resolve, reject) => {
        const payload = body ? new URLSearchParams(Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v)]))).toString() : undefined;
        const req = https.request(new URL(path.replace(/^\//, ""), base), {
            method, agent,
            headers: { ...headers, ...(payload ? { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(payload) } : {}) },
        }, (res) => {
            let text = "";
            res.on("data", (c) => { text += c; });
            res.on("end", () => {
                if ((res.statusCode ?? 500) >= 400) {
                    reject(new Error(`${method} ${path}: ${res.statusCode} ${res.statusMessage ?? ""} ${text.slice(0, 200)}`.trim()));
                    return;
                }
                resolve((JSON.parse(text || "{}") as Json).data);
            });
        });
        req.on("error", reject);
        req.end(payload);
    });

    const headers = (): Promise<Record<string, string>> => {
        auth ??= (async (): Promise<Record<string, string>> => {
            if (env.PROXMOX_VE_API_TOKEN) {
                return { Authorization: `PVEAPIToken=${env.PROXMOX_VE_API_TOKEN}` };
            }
            if (env.PROXMOX_VE_PASSWORD) {
                const ticket = await call("POST", "access/ticket", { username: config.proxmox.username, password: env.PROXMOX_VE_PASSWORD }) as Json;
                return { Cookie: `PVEAuthCookie=${String(ticket.ticket)}`, CSRFPreventionToken: String(ticket.CSRFPreventionToken) };
            }
            throw new Error("set PROXMOX_VE_API_TOKEN (user@realm!id=uuid) or PROXMOX_VE_PASSWORD for the drill's API calls");
        })();
        return auth;
    };
    const api = async (method: string, path: string, body?: Record<string, string | number>) => call(method, path, body, await headers());

    const waitTask = async (node: string, upid: unknown) => {
        for (;;) {
            const status = await api("GET", `nodes/${node}/tasks/${encodeURIComponent(String(upid))}/status`) as Json;
            if (status.status === "stopped") {
                if (status.exitstatus !== "OK") throw new Error(`task ${String(upid)} ended with ${String(status.exitstatus)}`);
                return;
            }
            await new Promise((r) => setTimeout(r, 2000));
        }
    };
    const ssh = (node: string, args: string[]) => new Promise<string>((resolve, reject) => {
        const address = config.hosts.find((h) => h.name === node)?.address ?? node;
        execFile("ssh", ["-p", String(config.proxmox.sshPort), `${config.proxmox.sshUser}@${address}`, "--", ...args], { encoding: "utf8" }, (err, stdout) => (err instanceof Error ? reject(err) : resolve(stdout)));
    });

    return {
        async backups(node, storage, vmid) {
            const items = await api("GET", `nodes/${node}/storage/${storage}/content?content=backup&vmid=${vmid}`) as Json[];
            return items.map((i): BackupArchive => ({ volid: String(i.volid), kind: String(i.subtype) === "lxc" ? "lxc" : "qemu", ctime: Number(i.ctime), size: Number(i.size) }));
        },
        async usedVmids() {
            const items = await api("GET", "cluster/resources?type=vm") as Json[];
            return new Set(items.map((i) => Number(i.vmid)));
        },
        async restore(node, kind, vmid, archive, storage) {
            const upid = kind === "qemu"
                ? await api("POST", `nodes/${node}/qemu`, { vmid, archive, storage, unique: 1 })
                : await api("POST", `nodes/${node}/lxc`, { vmid, ostemplate: archive, restore: 1, storage, unique: 1 });
            await waitTask(node, upid);
        },
        async unprotect(node, kind, vmid) {
            // PUT /nodes/{node}/{qemu|lxc}/{vmid}/config: `delete` takes a list of keys to remove.
            await api("PUT", `nodes/${node}/${kind}/${vmid}/config`, { delete: "protection", onboot: 0 });
        },
        async isolate(node, kind, vmid) {
            const config = await api("GET", `nodes/${node}/${kind}/${vmid}/config`) as Json;
            const nets = Object.entries(config).filter(([k]) => /^net\d+$/.test(k));
            for (const [key, value] of nets) {
                const text = String(value).replace(/,?link_down=\d/, "");
                await api("PUT", `nodes/${node}/${kind}/${vmid}/config`, { [key]: `${text},link_down=1` });
            }
        },
        async volumes(node, kind, vmid) {
            const config = await api("GET", `nodes/${node}/${kind}/${vmid}/config`) as Json;
            const disk = kind === "qemu" ? /^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$/ : /^(rootfs|mp\d+)$/;
            return Object.fromEntries(Object.entries(config).filter(([k]) => disk.test(k)).map(([k, v]) => [k, String(v).split(",")[0]]));
        },
        async start(node, kind, vmid) {
            await waitTask(node, await api("POST", `nodes/${node}/${kind}/${vmid}/status/start`));
        },
        async agentPing(node, vmid) {
            return api("POST", `nodes/${node}/qemu/${vmid}/agent/ping`).then(() => true, () => false);
        },
        async listDirectory(node, kind, vmid, dir) {
            if (kind !== "lxc") {
                throw new Error("listing a VM's files needs the guest agent's exec, which the drill does not use");
            }
            return (await ssh(node, ["pct", "exec", String(vmid), "--", "ls", "-A", dir])).split("\n").filter(Boolean);
        },
        async destroy(node, kind: GuestKind, vmid) {
            const status = await api("GET", `nodes/${node}/${kind}/${vmid}/status/current`) as Json;
            if (status.status === "running") {
                await waitTask(node, await api("POST", `nodes/${node}/${kind}/${vmid}/status/stop`));
            }
            await waitTask(node, await api("DELETE", `nodes/${node}/${kind}/${vmid}?purge=1&destroy-unreferenced-disks=1`));
        },
    };
}
