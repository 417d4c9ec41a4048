/**
 * The AI VM's user-data, rendered by the pure renderer and checked by the real
 * `cloud-init schema` (Debian package cloud-init; .ci/run installs it).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { DATA_DEVICE, DATA_MOUNT } from "../components/compute/aiVm";
import { AI_PATHS, AiServices, renderUserData } from "../components/compute/cloudInit";
import { byName, evaluate, haveTool, input } from "./helpers";

const HAVE_CLOUD_INIT = haveTool("cloud-init");
const SERVICES: AiServices = {
    environment: "private", gpuModel: "RTX 5090", vramGiB: 32, models: [{ name: "qwen2.5:32b", sizeGiB: 20 }],
    ollamaImage: "ollama/ollama:0.9.6", vectorStore: "qdrant", vectorStoreImage: "qdrant/qdrant:v1.14.1", kvCacheType: "q8_0", keepAlive: "30m",
};

function schemaCheck(userData: string): { ok: boolean; output: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "user-data-"));
    const file = path.join(dir, "user-data.yaml");
    fs.writeFileSync(file, userData);
    try {
        return { ok: true, output: execFileSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8", stdio: "pipe" }) };
    } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe.each(["private", "public"])("%s user-data", (stack) => {
    let userData: string;
    beforeAll(async () => {
        const { graph } = await evaluate(stack);
        const snippet = byName(graph.resources, `${stack}-ai-user-data`);
        expect(input(snippet, "sourceRaw.fileName")).toBe(`${stack}-${stack}-ai-user-data.yaml`);
        expect(input(snippet, "contentType")).toBe("snippets");
        userData = String(input(snippet, "sourceRaw.data"));
    });

    (HAVE_CLOUD_INIT ? test : test.skip)("passes cloud-init schema", () => {
        expect(schemaCheck(userData)).toEqual({ ok: true, output: expect.stringContaining("Valid cloud-config") });
    });

    test("installs Docker, the NVIDIA driver and container toolkit, and the guest agent", () => {
        const doc = parse(userData) as Record<string, unknown>;
        expect(doc.packages).toEqual(expect.arrayContaining(["docker-ce", "nvidia-container-toolkit", "qemu-guest-agent"]));
        expect(JSON.stringify(doc.runcmd)).toContain("nvidia-driver-570-open");
        expect(JSON.stringify(doc.runcmd)).toContain("nvidia-ctk");
        expect(doc.users).toEqual([expect.objectContaining({ name: "ai", lock_passwd: true, ssh_authorized_keys: [expect.stringMatching(/^ssh-ed25519 /)] })]);
        expect(doc.ssh_pwauth).toBe(false);
    });

    test("runs Ollama with the GPU and the environment's vector store from pinned images, its data on the data disk", () => {
        const doc = parse(userData) as { write_files: { path: string; content: string }[] };
        const file = (p: string) => doc.write_files.find((f) => f.path === p)?.content ?? "";
        const compose = parse(file(AI_PATHS.compose)) as { services: Record<string, { image: string; volumes: string[]; deploy?: unknown }> };
        const store = stack === "private" ? "qdrant" : "chroma";
        expect(Object.keys(compose.services).sort()).toEqual(["ollama", store].sort());
        expect(compose.services.ollama.image).toBe("ollama/ollama:0.9.6");
        expect(JSON.stringify(compose.services.ollama.deploy)).toContain("nvidia");
        expect(compose.services[store].volumes[0].startsWith(`${DATA_MOUNT}/`)).toBe(true);
        const manifest = JSON.parse(file(AI_PATHS.manifest));
        expect(manifest.gpu.model).toBe(stack === "private" ? "RTX 5090" : "RTX 3060");
        expect(file(AI_PATHS.pullModels)).toContain(stack === "private" ? "ollama pull 'qwen2.5:32b'" : "ollama pull 'mistral:7b'");
        expect(file(AI_PATHS.unit)).toContain(`ConditionPathIsMountPoint=${DATA_MOUNT}`);
    });

    (haveTool("shellcheck") ? test : test.skip)("the model pull script passes shellcheck", () => {
        const doc = parse(userData) as { write_files: { path: string; content: string }[] };
        const script = doc.write_files.find((f) => f.path === AI_PATHS.pullModels)?.content ?? "";
        expect(execFileSync("shellcheck", ["-s", "sh", "-"], { input: script, encoding: "utf8" })).toBe("");
    });

    test("never reformats the data disk and keeps Docker's data on it", () => {
        const doc = parse(userData) as { fs_setup: { device: string; overwrite: boolean }[]; write_files: { content: string }[] };
        expect(doc.fs_setup).toEqual([expect.objectContaining({ device: DATA_DEVICE, overwrite: false })]);
        expect(JSON.parse(doc.write_files[0].content)["data-root"]).toBe(`${DATA_MOUNT}/docker`);
    });
});

(HAVE_CLOUD_INIT ? test : test.skip)("the schema check fails on a broken document (the check is real)", () => {
    const broken = renderUserData({ hostname: "private-ai", user: "ai", sshPublicKeys: ["ssh-ed25519 AAAA x"], nvidiaDriver: "nvidia-driver-570-open", dataMount: DATA_MOUNT, dataDevice: DATA_DEVICE, services: SERVICES })
        .replace("mode: reboot", "mode: explode");
    expect(schemaCheck(broken).ok).toBe(false);
});

test("rendering is deterministic", () => {
    const args = { hostname: "h", user: "u", sshPublicKeys: ["ssh-ed25519 AAAA k"], nvidiaDriver: "nvidia-driver-570-open", dataMount: "/srv/ai", dataDevice: DATA_DEVICE, services: SERVICES };
    expect(renderUserData(args)).toBe(renderUserData(args));
    expect(renderUserData(args).startsWith("#cloud-config\n")).toBe(true);
});
