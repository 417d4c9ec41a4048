/**
 * Provisioning inside the service containers: the scripts pass shellcheck, run for real
 * against a scratch root with stubbed system tools (a second run changes nothing), and
 * every container of both stacks gets its steps over SSH, after the container exists.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { bundleText, file, provisionCommand, value } from "../components/provision/steps";
import { byName, haveTool, input, ofType, scriptEnv, seedEnvironments, TYPES } from "./helpers";
import { scratch } from "./provisionHarness";

const SCRIPTS = path.join(__dirname, "..", "components", "provision", "scripts");
const scripts = fs.readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh")).sort();

describe("the scripts", () => {
    test("each script, and lib.sh in front of each as the step runs it, passes shellcheck with no warnings", () => {
        expect(haveTool("shellcheck")).toBe(true);
        expect(scripts).toEqual(expect.arrayContaining(["base.sh", "lib.sh"]));
        expect(execFileSync("shellcheck", ["--severity=style", "--shell=bash", ...scripts.map((s) => path.join(SCRIPTS, s))], { encoding: "utf8" })).toBe("");
        const lib = fs.readFileSync(path.join(SCRIPTS, "lib.sh"), "utf8");
        for (const script of scripts.filter((s) => s !== "lib.sh")) {
            const combined = `${lib}\n${fs.readFileSync(path.join(SCRIPTS, script), "utf8")}`;
            expect(execFileSync("shellcheck", ["--severity=style", "--shell=bash", "-"], { input: combined, encoding: "utf8" })).toBe("");
        }
    });

    test("the command keeps stdin free for the bundle and quotes its arguments", () => {
        const cmd = provisionCommand("base.sh", ["/srv/data dir"]);
        expect(cmd.startsWith(`bash -c "$(cat <<'AI_DUALSTACK_PROVISION_END'\n`)).toBe(true);
        expect(cmd.endsWith(`\nAI_DUALSTACK_PROVISION_END\n)" base '/srv/data dir'`)).toBe(true);
        expect(bundleText([file("/etc/x", "a\nb"), value("pw", "s3cret")])).toBe(`file /etc/x 0644 root:root ${Buffer.from("a\nb").toString("base64")}\nvalue pw ${Buffer.from("s3cret").toString("base64")}\nend\n`);
        expect(() => bundleText([file("/etc/../shadow", "")])).toThrow(/not a plain absolute path/);
    });
});

describe("base.sh against a scratch root", () => {
    test("installs the node exporter once; a second run installs and restarts nothing", () => {
        const s = scratch({ mounts: ["/var/lib/redis"] });
        const first = s.run("base.sh", ["/var/lib/redis"], [file("/etc/default/prometheus-node-exporter", "ARGS=\"\"\n")]);
        expect(first.stderr).toBe("");
        expect(first.status).toBe(0);
        expect(s.calls()).toEqual(expect.arrayContaining([
            "apt-get update -q",
            "apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ca-certificates prometheus-node-exporter",
            "systemctl restart prometheus-node-exporter",
        ]));
        expect(s.read("etc/default/prometheus-node-exporter")).toBe("ARGS=\"\"\n");

        s.resetCalls();
        const second = s.run("base.sh", ["/var/lib/redis"], [file("/etc/default/prometheus-node-exporter", "ARGS=\"\"\n")]);
        expect(second.status).toBe(0);
        expect(second.stdout).toContain("/etc/default/prometheus-node-exporter unchanged");
        expect(s.calls().filter((c) => /^(apt-get|systemctl (restart|start))/.test(c))).toEqual([]);
    });

    test("refuses when the data volume is not mounted, before installing anything", () => {
        const s = scratch({ mounts: [] });
        const r = s.run("base.sh", ["/var/lib/redis"], []);
        expect(r).toMatchObject({ status: 1, stderr: "base: /var/lib/redis is not a mount point: the container's data volume is missing\n" });
        expect(s.calls().filter((c) => c.startsWith("apt-get"))).toEqual([]);
    });

    test("refuses a truncated bundle and a path that climbs out", () => {
        const s = scratch({ mounts: ["/srv"] });
        const cmd = provisionCommand("base.sh", ["/srv"]);
        const env = scriptEnv({ PATH: `${s.bin}:${process.env.PATH}`, AI_DUALSTACK_ROOT: s.root });
        const truncated = () => execFileSync("bash", ["-c", cmd], { input: "file /etc/x 0644 root:root eA==\n", env, stdio: "pipe" });
        expect(truncated).toThrow(/bundle: truncated/);
        const climbing = () => execFileSync("bash", ["-c", cmd], { input: "file /etc/../x 0644 root:root eA==\nend\n", env, stdio: "pipe" });
        expect(climbing).toThrow(/bundle: bad path/);
        expect(s.exists("x")).toBe(false);
    });
});

describe("provisioning in the graph", () => {
    const seed = seedEnvironments();

    test.each([["private", () => seed.private], ["public", () => seed.public]])("every %s container is provisioned over SSH, after it exists", (_env, get) => {
        const { graph, config } = get();
        for (const ct of config.containers) {
            // First contact reads the container's host key (pve-container generates it at create)...
            const contact = byName(graph.resources, `${ct.name}-provision-host-key`);
            // @pulumi/command makes the whole connection (host, user, key) a secret.
            expect(input(contact, "connection")).toBe("[secret]");
            expect(input(contact, "create")).toBe("cat /etc/ssh/ssh_host_ed25519_key.pub");
            expect(input(contact, "triggers")).toEqual([`${ct.name}-ct-id`]);
            expect(contact.dependencies).toContain(byName(graph.resources, `${ct.name}-ct`).urn);
            // ...and every step after it is pinned to that key (unknown until it is read).
            const base = byName(graph.resources, `${ct.name}-provision-base`);
            expect(base.type).toBe(TYPES.command);
            expect(input(base, "connection")).toBe("[unknown]");
            expect(input(base, "addPreviousOutputInEnv")).toBe(false);
            expect(String(input(base, "create"))).toContain(`base ${ct.dataMountPath}`);
            expect(input(base, "stdin")).toBe("[secret]");
            // a replaced container runs its steps again
            expect(input(base, "triggers")).toEqual([`${ct.name}-ct-id`]);
            expect(base.dependencies).toContain(contact.urn);
        }
        expect(ofType(graph.resources, TYPES.command).filter((c) => c.name.endsWith("-provision-base"))).toHaveLength(config.containers.length);
    });
});
