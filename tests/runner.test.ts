/**
 * The CI/CD container's GitHub Actions runner: registered once from the secret token with
 * the labels the workflows ask for, the pinned release checked by its sha256, jobs in
 * Docker. runner.sh runs against a scratch root with a fake release archive.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { file, value } from "../components/provision/steps";
import { RUNNER_UNIT, runnerUnit, servesLabels } from "../components/services/runner";
import { byName, evaluate, input, stackFile } from "./helpers";
import { scratch } from "./provisionHarness";
import { evaluateStack } from "../tools/lib/evaluate";

const TOKEN = "AABBCCDDEEFFGGHHIIJJKKLLMMNNO";

/** A stand-in for actions-runner-linux-x64-<v>.tar.gz: config.sh records how it was called. */
function fakeRelease(dir: string, log: string): { archive: string; sha256: string } {
    const src = path.join(dir, "release");
    fs.mkdirSync(path.join(src, "bin"), { recursive: true });
    fs.writeFileSync(path.join(src, "config.sh"), `#!/usr/bin/env bash\necho "config.sh $* token=\${ACTIONS_RUNNER_INPUT_TOKEN:-none} HOME=\${HOME:-}" >>"${log}"\necho '{}' >.runner\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(src, "bin", "runsvc.sh"), "#!/bin/sh\n", { mode: 0o755 });
    const archive = path.join(dir, "release.tar.gz");
    execFileSync("tar", ["-czf", archive, "-C", src, "."]);
    return { archive, sha256: createHash("sha256").update(fs.readFileSync(archive)).digest("hex") };
}

describe("runner.sh against a scratch root", () => {
    const setup = () => {
        const s = scratch({ mounts: ["/srv/runner"] });
        const log = path.join(s.state, "config-calls");
        const release = fakeRelease(fs.mkdtempSync(path.join(os.tmpdir(), "runner-")), log);
        s.stub("curl", `while [ "$1" != -o ]; do shift; done; cp "${release.archive}" "$2"`);
        s.stub("id", "exit 1");
        for (const tool of ["useradd", "usermod"]) s.stub(tool, "true");
        // runuser(1) without --login: the environment stays, but HOME, SHELL, USER and LOGNAME
        // become the target user's, unless --preserve-environment.
        s.stub("runuser", `keep=0; while [ "$1" != -- ]; do case $1 in -p|--preserve-environment) keep=1;; esac; shift; done; shift; [ $keep = 1 ] || export HOME=/home/runner USER=runner LOGNAME=runner; exec "$@"`);
        return { s, log, release };
    };
    const args = (sha256: string) => ["2.337.0", sha256, "https://github.com/you/ai-dualstack", "private-ci", "ai-dualstack", "/srv/runner"];
    const bundle = [value("token", TOKEN), file(RUNNER_UNIT, runnerUnit("/srv/runner/actions-runner"))];

    test("downloads and checks the release, registers once with the token from the environment; a second run changes nothing", () => {
        const { s, log, release } = setup();
        const first = s.run("runner.sh", args(release.sha256), bundle);
        expect(first.stderr).toBe("");
        expect(first.status).toBe(0);
        expect(fs.readFileSync(log, "utf8")).toBe(`config.sh --unattended --url https://github.com/you/ai-dualstack --name private-ci --labels ai-dualstack --work _work --replace --disableupdate token=${TOKEN} HOME=/home/runner\n`);
        expect(s.calls()).toEqual(expect.arrayContaining([
            "apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold docker.io git curl ca-certificates libicu72 libkrb5-3 zlib1g libssl3 liblttng-ust1",
            "usermod -aG docker runner",
            "systemctl restart actions-runner",
        ]));
        // The token is never on a command line.
        expect(s.calls().join("\n")).not.toContain(TOKEN);

        s.resetCalls();
        const second = s.run("runner.sh", args(release.sha256), bundle);
        expect(second.status).toBe(0);
        expect(second.stdout).toContain("registered already");
        expect(fs.readFileSync(log, "utf8").split("\n").filter(Boolean)).toHaveLength(1);
        expect(s.calls().filter((c) => /^(apt-get|curl|systemctl (restart|start))/.test(c))).toEqual([]);
    });

    test("refuses a release that does not match the pinned sha256, before extracting it", () => {
        const { s } = setup();
        const r = s.run("runner.sh", args("0".repeat(64)), bundle);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("actions-runner 2.337.0 does not match its pinned sha256");
        expect(s.exists("srv/runner/actions-runner/config.sh")).toBe(false);
    });
});

describe("in the graph", () => {
    test("the private CI container registers a runner whose labels serve every self-hosted job's runs-on", async () => {
        const { graph, config } = await evaluate("private");
        const step = byName(graph.resources, "private-ci-provision-runner");
        expect(input(step, "stdin")).toBe("[secret]");
        const runner = config.services.runner;
        expect(runner).toBeDefined();
        expect(String(input(step, "create"))).toContain(`runner 2.337.0 ${runner?.sha256} https://github.com/your-user/ai-dualstack private-ci ai-dualstack /srv/runner`);
        const workflows = path.join(__dirname, "..", ".github", "workflows");
        let selfHosted = 0;
        for (const wf of fs.readdirSync(workflows)) {
            const doc = parse(fs.readFileSync(path.join(workflows, wf), "utf8")) as { jobs: Record<string, { "runs-on": string | string[] }> };
            for (const [job, spec] of Object.entries(doc.jobs)) {
                const runsOn = ([] as string[]).concat(spec["runs-on"]);
                // Pull-request code runs on a GitHub-hosted runner with no secret (README "Safe CI").
                if (!runsOn.includes("self-hosted")) {
                    expect({ wf, job, runsOn }).toEqual({ wf, job, runsOn: [expect.stringMatching(/^ubuntu-\d/)] });
                    continue;
                }
                selfHosted++;
                expect({ wf, job, served: servesLabels(runner?.labels ?? [], runsOn) }).toEqual({ wf, job, served: true });
            }
        }
        expect(selfHosted).toBeGreaterThanOrEqual(3);
        expect(servesLabels(["ai-dualstack"], ["self-hosted", "gpu"])).toBe(false);
    });

    test("a stack with a CI container but no runner token stops with one line naming the secret", async () => {
        const file = stackFile("private");
        const withoutToken = { ...file, config: { ...file.config }, secretKeys: file.secretKeys.filter((k) => k !== "ai-dualstack:githubRunnerToken") };
        delete withoutToken.config["ai-dualstack:githubRunnerToken"];
        await expect(evaluateStack({ stack: "private", file: withoutToken })).rejects.toMatchObject({
            problems: ["ai-dualstack:githubRunnerToken: is required with a cicd container (a registration token from the repository's Settings, Actions, Runners); set it with: pulumi config set --secret githubRunnerToken <value>"],
        });
    });
});
