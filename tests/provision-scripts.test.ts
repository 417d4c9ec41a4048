/**
 * The AI VM's provisioning scripts, run for real here: shellcheck-clean; the data-disk
 * script against disk images (blank: formatted; holding data: never formatted); the
 * Docker/NVIDIA script against a scratch root with apt, modprobe and systemctl stubbed;
 * the model pull against a fake Ollama that streams /api/pull like the real one. The
 * shipped apt signing keys are checked with gpg against their pinned fingerprints.
 */
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { APT_KEYS, aptKeyBundle, aptKeyText, bundleText, provisionCommand } from "../components/provision/steps";
import { haveTool, scriptEnv } from "./helpers";

// shellcheck of every provisioning script, alone and behind lib.sh as a step runs it: tests/provision.test.ts.

test("the shipped apt signing keys have the pinned fingerprints", () => {
    for (const key of Object.keys(APT_KEYS) as (keyof typeof APT_KEYS)[]) {
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "gnupg-"));
        const out = execFileSync("gpg", ["--homedir", home, "--batch", "--show-keys", "--with-colons"], { input: aptKeyText(key), encoding: "utf8" });
        const lines = out.split("\n");
        const primary = lines[lines.findIndex((l) => l.startsWith("pub:")) + 1].split(":")[9];
        expect({ key, primary }).toEqual({ key, primary: APT_KEYS[key].fingerprint });
        // The primary key itself does not expire (field 7 empty).
        expect(lines.find((l) => l.startsWith("pub:"))?.split(":")[6]).toBe("");
        fs.rmSync(home, { recursive: true, force: true });
    }
});

/** A scratch directory with stub commands that log their calls. */
function scratch(stubs: Record<string, string>) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "provision-"));
    const root = path.join(dir, "root");
    const bin = path.join(dir, "bin");
    const calls = path.join(dir, "calls");
    fs.mkdirSync(root);
    fs.mkdirSync(bin);
    fs.writeFileSync(calls, "");
    for (const [name, body] of Object.entries(stubs)) {
        fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${calls}"\n${body}\n`, { mode: 0o755 });
    }
    const run = (commandLine: string, env: Record<string, string> = {}, input = bundleText([])) => spawnSync("bash", ["-c", commandLine], {
        input,
        encoding: "utf8",
        env: scriptEnv({ PATH: `${bin}:${process.env.PATH}`, AI_DUALSTACK_ROOT: root, ...env }),
    });
    return { dir, root, calls: () => fs.readFileSync(calls, "utf8"), run };
}


describe("data-disk.sh", () => {
    const mountStubs = { mount: "exit 0", mountpoint: "exit 1", chown: "exit 0", resize2fs: "exit 0" };

    test("grows the filesystem of a disk grown in Proxmox, and leaves an unchanged one alone", () => {
        const s = scratch(mountStubs);
        const img = path.join(s.dir, "disk.img");
        fs.closeSync(fs.openSync(img, "w"));
        fs.truncateSync(img, 64 * 1024 * 1024);
        execFileSync("mkfs.ext4", ["-q", "-L", "aidata", img]);
        expect(s.run(provisionCommand("data-disk.sh", [img, "/srv/ai", "aidata"])).status).toBe(0);
        expect(s.calls()).not.toContain("resize2fs");
        // `qm resize <AI VM> scsi1 +192M`: the device grows, the filesystem (real dumpe2fs) does not yet.
        fs.truncateSync(img, 256 * 1024 * 1024);
        const r = s.run(provisionCommand("data-disk.sh", [img, "/srv/ai", "aidata"]));
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("the disk is larger than its filesystem: growing it");
        expect(s.calls()).toContain(`resize2fs ${img}`);
        expect(r.stdout).not.toContain("creating");
    });

    test("runs against real e2fsprogs and blkid (.ci/run installs them): a missing tool fails, never skips", () => {
        expect({ mkfs: haveTool("mkfs.ext4"), blkid: haveTool("blkid"), debugfs: haveTool("debugfs") }).toEqual({ mkfs: true, blkid: true, debugfs: true });
    });
    const probe = (img: string) => execFileSync("blkid", ["-p", "-o", "export", img], { encoding: "utf8" });

    test("formats a blank disk, mounts it by UUID and creates the workloads' directories", () => {
        const s = scratch(mountStubs);
        const img = path.join(s.dir, "disk.img");
        fs.writeFileSync(img, Buffer.alloc(0));
        fs.truncateSync(img, 64 * 1024 * 1024);
        const r = s.run(provisionCommand("data-disk.sh", [img, "/srv/ai", "aidata", "ollama", "privategpt:100", "qdrant"]));
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("is blank: creating ext4 'aidata'");
        expect(probe(img)).toMatch(/TYPE=ext4\nUSAGE=filesystem|LABEL=aidata/);
        const uuid = /UUID=(\S+)/.exec(probe(img))?.[1];
        expect(fs.readFileSync(path.join(s.root, "etc", "fstab"), "utf8")).toBe(`UUID=${uuid} /srv/ai ext4 defaults,nofail,discard,x-systemd.device-timeout=30s 0 2\n`);
        expect(fs.readdirSync(path.join(s.root, "srv", "ai")).sort()).toEqual(["ollama", "privategpt", "qdrant"]);
        // A container running as uid 100 owns its directory (the bind mount hides the image's own).
        expect(s.calls()).toContain(`chown 100:100 ${s.root}/srv/ai/privategpt`);
        expect(s.calls()).not.toContain("srv/ai/ollama\n");
        expect(s.calls()).toContain(`mount ${s.root}/srv/ai`);
    });

    test("never formats a disk that holds the data filesystem: its files survive any number of runs", () => {
        const s = scratch(mountStubs);
        const img = path.join(s.dir, "disk.img");
        fs.closeSync(fs.openSync(img, "w"));
        fs.truncateSync(img, 64 * 1024 * 1024);
        execFileSync("mkfs.ext4", ["-q", "-L", "aidata", img]);
        const marker = path.join(s.dir, "model.bin");
        fs.writeFileSync(marker, "weights that took an hour to download\n");
        execFileSync("debugfs", ["-w", "-R", `write ${marker} model.bin`, img], { stdio: "pipe" });
        const before = probe(img);
        for (let i = 0; i < 2; i++) {
            const r = s.run(provisionCommand("data-disk.sh", [img, "/srv/ai", "aidata", "ollama"]));
            expect(r.status).toBe(0);
            expect(r.stdout).toContain("holds ext4 'aidata'");
            expect(r.stdout).not.toContain("creating");
        }
        expect(probe(img)).toBe(before);
        expect(execFileSync("debugfs", ["-R", "cat model.bin", img], { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] })).toBe("weights that took an hour to download\n");
    });

    test.each([
        ["another filesystem", (img: string) => execFileSync("mkfs.ext4", ["-q", "-L", "photos", img]), "holds ext4 labelled 'photos', expected ext4 labelled 'aidata'; not touching it"],
        ["a partition table", (img: string) => execFileSync("sfdisk", ["-q", img], { input: "label: gpt\n,,L\n" }), "partition table or another non-filesystem signature; not touching it"],
        ["data blkid does not know", (img: string) => { const fd = fs.openSync(img, "r+"); fs.writeSync(fd, Buffer.from("not zero"), 0, 8, 4096); fs.closeSync(fd); }, "has no known signature but its first MiB is not empty; not formatting it"],
    ])("refuses a disk holding %s and leaves it byte for byte", (_what, prepare, message) => {
        const s = scratch(mountStubs);
        const img = path.join(s.dir, "disk.img");
        fs.closeSync(fs.openSync(img, "w"));
        fs.truncateSync(img, 64 * 1024 * 1024);
        prepare(img);
        const before = fs.readFileSync(img);
        const r = s.run(provisionCommand("data-disk.sh", [img, "/srv/ai", "aidata"]));
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(message);
        expect(fs.readFileSync(img).equals(before)).toBe(true);
        expect(s.calls()).not.toContain("mount");
    });
});

describe("docker-gpu.sh", () => {
    const stubs = {
        "apt-get": "exit 0",
        "dpkg-query": "exit 1",
        lsmod: "exit 0",
        modprobe: "exit 0",
        "nvidia-modprobe": "exit 0",
        "nvidia-ctk": "exit 0",
        systemctl: "exit 0",
        // the keyrings are installed root:root; the scratch root may not be ours to chown
        chown: "exit 0",
        uname: "echo 6.8.0-60-generic",
        // the user is in its own group only until the script adds it to docker
        id: "echo ai",
        usermod: "exit 0",
        reboot: "exit 0",
        shutdown: "exit 0",
    };
    const args = (driver = "nvidia-driver-570-open") => [driver, "/srv/ai", "ai"];
    const keys = bundleText(aptKeyBundle());

    const setUp = () => {
        const s = scratch(stubs);
        fs.mkdirSync(path.join(s.root, "etc"), { recursive: true });
        fs.writeFileSync(path.join(s.root, "etc", "os-release"), "ID=ubuntu\nVERSION_CODENAME=noble\n");
        return s;
    };

    test("installs from the repositories with the shipped keys, loads the driver with modprobe and never reboots", () => {
        const s = setUp();
        const r = s.run(provisionCommand("docker-gpu.sh", args()), {}, keys);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const read = (p: string) => fs.readFileSync(path.join(s.root, p), "utf8");
        expect(read("etc/apt/keyrings/ai-dualstack-docker.asc")).toBe(aptKeyText("docker"));
        expect(read("etc/apt/keyrings/ai-dualstack-nvidia-container-toolkit.asc")).toBe(aptKeyText("nvidiaContainerToolkit"));
        expect(read("etc/apt/sources.list.d/ai-dualstack-docker.sources")).toContain("Suites: noble\nComponents: stable\nArchitectures: amd64\nSigned-By: /etc/apt/keyrings/ai-dualstack-docker.asc");
        expect(read("etc/apt/sources.list.d/ai-dualstack-nvidia-container-toolkit.sources")).toContain("Suites: /\nSigned-By: /etc/apt/keyrings/ai-dualstack-nvidia-container-toolkit.asc");
        // Images too stay on the data disk: no containerd image store under /var/lib/containerd.
        expect(JSON.parse(read("etc/docker/daemon.json"))).toEqual({ "data-root": "/srv/ai/docker", features: { "containerd-snapshotter": false }, "log-driver": "json-file", "log-opts": { "max-size": "10m", "max-file": "3" } });
        expect(read("etc/systemd/system/docker.service.d/ai-dualstack.conf")).toBe("[Unit]\nRequiresMountsFor=/srv/ai\n");
        const calls = s.calls();
        expect(calls).toContain("apt-get install -y -q --no-install-recommends ca-certificates curl jq qemu-guest-agent linux-headers-6.8.0-60-generic docker-ce docker-ce-cli containerd.io docker-buildx-plugin nvidia-driver-570-open nvidia-container-toolkit");
        expect(calls).toContain("modprobe nvidia\n");
        expect(calls).toContain("nvidia-ctk runtime configure --runtime=docker");
        // the Docker provider connects as this user: it must reach the socket without sudo
        expect(calls).toContain("usermod -aG docker ai");
        expect(calls).not.toMatch(/^(reboot|shutdown)/m);
        // No keyserver, no download of keys at boot.
        expect(calls).not.toMatch(/^(gpg|curl|wget|apt-key) /m);
    });

    test("a user already in the docker group is left alone", () => {
        const s = scratch({ ...stubs, id: "echo ai docker" });
        fs.mkdirSync(path.join(s.root, "etc"), { recursive: true });
        fs.writeFileSync(path.join(s.root, "etc", "os-release"), "ID=ubuntu\nVERSION_CODENAME=noble\n");
        expect(s.run(provisionCommand("docker-gpu.sh", args()), {}, keys).status).toBe(0);
        expect(s.calls()).not.toContain("usermod");
    });

    test("a second run with nothing changed does not restart Docker", () => {
        const s = setUp();
        s.run(provisionCommand("docker-gpu.sh", args()), {}, keys);
        const first = s.calls();
        const r = s.run(provisionCommand("docker-gpu.sh", args()), {}, keys);
        expect(r.status).toBe(0);
        expect(first).toContain("systemctl restart docker");
        expect(s.calls().slice(first.length)).not.toContain("systemctl restart docker");
    });

    test("refuses a driver name that is not an Ubuntu driver package, before writing anything", () => {
        const s = setUp();
        const r = s.run(provisionCommand("docker-gpu.sh", args("nvidia-driver-570; reboot")), {}, keys);
        expect(r.status).toBe(1);
        expect(r.stderr).toBe("docker-gpu: bad driver package 'nvidia-driver-570; reboot'\n");
        expect(fs.existsSync(path.join(s.root, "etc", "apt"))).toBe(false);
    });
});

describe("verify.sh", () => {
    const run = (smi: string, container: string) => {
        const s = scratch({
            "nvidia-smi": `echo "${smi}"`,
            docker: `case "$1" in info) case "$*" in *Runtimes*) echo '{"nvidia":{},"runc":{}}';; *) echo '28.3.2 (data root /srv/ai/docker)';; esac;; run) echo "${container}";; esac`,
        });
        return s.run(provisionCommand("verify.sh", ["RTX 5090", "ubuntu:24.04"]));
    };

    test("passes when the driver and a GPU container both see the configured card", () => {
        const r = run("NVIDIA GeForce RTX 5090, 32607 MiB", "GPU 0: NVIDIA GeForce RTX 5090 (UUID: GPU-x)");
        expect(r.status).toBe(0);
        expect(r.stdout.trim().split("\n").pop()).toBe("verify: verified: NVIDIA GeForce RTX 5090");
    });

    test("fails when another card is passed through", () => {
        const r = run("NVIDIA GeForce RTX 3060, 12288 MiB", "GPU 0: NVIDIA GeForce RTX 3060");
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("expected a RTX 5090, the driver sees 'NVIDIA GeForce RTX 3060, 12288 MiB'");
    });
});

describe("pull-model.sh against a fake Ollama", () => {
    test("runs with real jq and curl (.ci/run installs them): a missing tool fails, never skips", () => {
        expect({ jq: haveTool("jq"), curl: haveTool("curl") }).toEqual({ jq: true, curl: true });
    });

    let server: http.Server;
    let url: string;
    let pulls = 0;

    beforeAll(async () => {
        server = http.createServer((req, res) => {
            req.resume();
            req.on("end", () => {
                if (req.url === "/api/version") {
                    res.end('{"version":"0.9.6"}');
                } else if (req.url === "/api/show") {
                    res.statusCode = 404;
                    res.end('{"error":"model not found"}');
                } else if (req.url === "/api/pull") {
                    pulls += 1;
                    res.write('{"status":"pulling manifest"}\n');
                    if (pulls === 1) {
                        res.end('{"error":"max retries exceeded: connection reset"}\n');
                        return;
                    }
                    const total = 100 * 1048576;
                    for (let done = 0; done <= total; done += total / 20) {
                        res.write(`${JSON.stringify({ status: "pulling 6a0746a1ec1a", digest: "sha256:6a0746a1ec1a", total, completed: done })}\n`);
                    }
                    res.end('{"status":"verifying sha256 digest"}\n{"status":"writing manifest"}\n{"status":"success"}\n');
                } else {
                    res.statusCode = 404;
                    res.end();
                }
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    /** Runs the step's command asynchronously (the fake server lives in this process). */
    const pull = (size: string) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn("bash", ["-c", provisionCommand("pull-model.sh", ["qwen2.5:32b", size, url, os.tmpdir()])], { env: scriptEnv({ PULL_RETRY_DELAY: "0" }) });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => { stdout += String(d); });
        child.stderr.on("data", (d) => { stderr += String(d); });
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });

    test("shows progress every 5%, retries a failed pull and succeeds", async () => {
        const r = await pull("0.001");
        expect(r.status).toBe(0);
        expect(r.stderr).toContain("qwen2.5:32b: max retries exceeded: connection reset");
        expect(r.stdout).toContain("attempt 1 of 5 failed; resuming in 0 s");
        expect(r.stdout.match(/% of 100 MiB/g)).toHaveLength(21);
        expect(r.stdout).toContain("pull-model: qwen2.5:32b: pulling 50% of 100 MiB");
        expect(r.stdout.trim().split("\n").pop()).toBe("pull-model: qwen2.5:32b: pulled");
        expect(pulls).toBe(2);
    });

    test("refuses to start when the data disk has no room for the model", async () => {
        const r = await pull("1000000");
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/qwen2.5:32b needs about 1000000 GiB, .* has \d+ GiB free/);
    });
});
