/**
 * The GitHub workflows: valid by a real validator (@action-validator/cli), wired to the
 * tools as the README says, and their shell steps shellcheck-clean.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";

const DIR = path.join(__dirname, "..", ".github", "workflows");
const VALIDATOR = path.join(__dirname, "..", "node_modules", ".bin", "action-validator");
const files = fs.readdirSync(DIR).filter((f) => f.endsWith(".yml")).sort();

interface Step { uses?: string; run?: string; with?: Record<string, unknown>; if?: string; env?: Record<string, string>; name?: string }
interface Job { "runs-on": string | string[]; steps: Step[]; strategy?: { matrix: { stack: string[] } }; if?: string; env?: Record<string, string>; environment?: string; needs?: string }
interface Workflow { on: Record<string, unknown>; env?: Record<string, string>; jobs: Record<string, Job> }
const load = (file: string) => parse(fs.readFileSync(path.join(DIR, file), "utf8")) as Workflow;
const text = (file: string) => fs.readFileSync(path.join(DIR, file), "utf8");
/** Whether a value reads a secret (`secrets.X`) */
const readsSecret = (value: unknown) => /\bsecrets\./.test(JSON.stringify(value ?? ""));
/** The only steps allowed a secret: the Pulumi CLI through pulumi/actions, or the drift and rebuild tools that drive it. */
const isPulumiStep = (s: Step) => (s.uses?.startsWith("pulumi/actions@") === true && s.with?.command !== undefined)
    || /^npm run -s (drift|rebuild) /m.test(s.run ?? "");

test("there are the three workflows", () => {
    expect(files).toEqual(["drift.yml", "preview.yml", "rebuild.yml"]);
});

test.each(files)("%s passes action-validator", (file) => {
    const r = spawnSync(VALIDATOR, [path.join(DIR, file)], { encoding: "utf8" });
    expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status: 0, out: "" });
});

test("the validator is real: it rejects a broken workflow", () => {
    const broken = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wf-")), "bad.yml");
    fs.writeFileSync(broken, "name: x\non: [push]\njobs:\n  a:\n    runs-onn: self-hosted\n    steps: []\n");
    expect(spawnSync(VALIDATOR, [broken]).status).not.toBe(0);
});

test("preview: tests and offline policy on a GitHub-hosted runner with no secret, then a reviewed pulumi preview per stack", () => {
    const { checks, preview } = load("preview.yml").jobs;
    expect(checks["runs-on"]).toBe("ubuntu-24.04");
    expect(checks.environment).toBeUndefined();
    expect(readsSecret(checks)).toBe(false);
    // The project's own CI entry point (installs the Debian tools, npm ci, npm test), then the policy check.
    expect(checks.steps.map((s) => s.run)).toEqual(expect.arrayContaining(["sudo --preserve-env=PATH,CI bash .ci/run", "npm run policy"]));
    expect(fs.readFileSync(path.join(__dirname, "..", ".ci", "run"), "utf8")).toMatch(/npm ci[\s\S]*npm test/);

    expect(preview.needs).toBe("checks");
    expect(preview.strategy?.matrix.stack).toEqual(["host", "private", "public"]);
    expect(preview["runs-on"]).toContain("self-hosted");
    expect(preview.if).toContain("github.repository");
    expect(preview.environment).toBe("preview-${{ matrix.stack }}");
    const step = preview.steps.find((s) => s.uses?.startsWith("pulumi/actions"));
    expect(step?.with).toMatchObject({ command: "preview", policyPacks: "policy", policyPackConfigs: "policy/config/${{ matrix.stack }}.json", "comment-on-pr": true });
});

describe.each(files)("%s keeps secrets away from code that does not need them", (file) => {
    const wf = load(file);

    test("no workflow-level or job-level env holds a secret", () => {
        expect(readsSecret(wf.env)).toBe(false);
        for (const [name, job] of Object.entries(wf.jobs)) {
            expect({ job: name, secretInEnv: readsSecret(job.env) }).toEqual({ job: name, secretInEnv: false });
        }
    });

    test("only Pulumi steps see a secret, and only in a job behind a GitHub environment", () => {
        for (const [name, job] of Object.entries(wf.jobs)) {
            for (const step of job.steps) {
                const label = step.name ?? step.run ?? step.uses;
                if (readsSecret(step)) {
                    expect({ job: name, step: label, pulumiStep: isPulumiStep(step), environment: job.environment !== undefined })
                        .toEqual({ job: name, step: label, pulumiStep: true, environment: true });
                }
            }
        }
    });

    test("steps that run repository code (npm ci, npm test, npm run policy) see no secret", () => {
        const repoCode = Object.values(wf.jobs).flatMap((j) => j.steps).filter((s) => /^(npm (ci|test|run policy)|.*\.ci\/run)/m.test(s.run ?? ""));
        repoCode.forEach((s) => expect({ step: s.run, secret: readsSecret(s) }).toEqual({ step: s.run, secret: false }));
    });

    test("every action is pinned by a full commit SHA, its version in a comment", () => {
        const uses = [...text(file).matchAll(/^\s*-?\s*uses:\s*(\S+)(.*)$/gm)];
        expect(uses.length).toBeGreaterThan(0);
        for (const [, ref, comment] of uses) {
            expect({ ref, pinned: /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/.test(ref), comment: /# v\d+\.\d+\.\d+/.test(comment) })
                .toEqual({ ref, pinned: true, comment: true });
        }
    });

    test("the Pulumi CLI is installed at the pinned version", () => {
        const pulumiSteps = Object.values(wf.jobs).flatMap((j) => j.steps).filter((s) => s.uses?.startsWith("pulumi/actions@"));
        pulumiSteps.forEach((s) => expect(s.with?.["pulumi-version-file"]).toBe(".pulumi-version"));
    });

    test("no checkout leaves the GitHub token on the runner's disk", () => {
        Object.values(wf.jobs).flatMap((j) => j.steps).filter((s) => s.uses?.startsWith("actions/checkout@"))
            .forEach((s) => expect(s.with?.["persist-credentials"]).toBe(false));
    });
});

test("the pinned Pulumi CLI is the version of the SDK the program is built with", () => {
    const version = fs.readFileSync(path.join(__dirname, "..", ".pulumi-version"), "utf8").trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(version).toBe((JSON.parse(fs.readFileSync(path.join(__dirname, "..", "node_modules", "@pulumi", "pulumi", "package.json"), "utf8")) as { version: string }).version);
});

test("the secret checks are real: a workflow leaking a secret to npm test or a job env fails them", () => {
    const leaky: Job = { "runs-on": "ubuntu-24.04", env: { T: "${{ secrets.T }}" }, steps: [{ run: "npm test", env: { P: "${{ secrets.P }}" } }, { uses: "actions/checkout@v4" }] };
    expect(readsSecret(leaky.env)).toBe(true);
    expect(isPulumiStep(leaky.steps[0]) || !readsSecret(leaky.steps[0])).toBe(false);
    expect(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/.test(String(leaky.steps[1].uses))).toBe(false);
});

test("drift: scheduled and manual, all three stacks, uploads the report on failure", () => {
    const wf = load("drift.yml");
    expect(Object.keys(wf.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    const job = wf.jobs.drift;
    expect(job.strategy?.matrix.stack).toEqual(["host", "private", "public"]);
    expect(job.environment).toBe("drift-${{ matrix.stack }}");
    expect(job.steps.some((s) => s.run?.includes("npm run -s drift -- --stack \"$STACK\" --json"))).toBe(true);
    expect(job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact"))?.if).toBe("failure()");
});

test("rebuild: manual only, behind its per-stack environment, with a typed confirmation checked before anything runs", () => {
    const wf = load("rebuild.yml");
    expect(Object.keys(wf.on)).toEqual(["workflow_dispatch"]);
    expect(wf.jobs.rebuild.environment).toBe("rebuild-${{ inputs.stack }}");
    const steps = wf.jobs.rebuild.steps;
    expect(steps[0].run).toContain('"$CONFIRM" != "rebuild $STACK"');
    expect(steps[steps.length - 1].run).toContain("--include-private");
});

test("every run: step passes shellcheck", () => {
    for (const file of files) {
        for (const job of Object.values(load(file).jobs)) {
            for (const step of job.steps.filter((s) => s.run)) {
                // Expressions are filled in by GitHub before bash sees the script.
                const script = `#!/usr/bin/env bash\n${String(step.run).replace(/\$\{\{[^}]*\}\}/g, "x")}`;
                expect({ file, step: step.run, out: execFileSync("shellcheck", ["-s", "bash", "-"], { input: script, encoding: "utf8" }) }).toEqual({ file, step: step.run, out: "" });
            }
        }
    }
});
