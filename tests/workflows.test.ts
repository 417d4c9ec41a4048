/**
 * The GitHub workflows: valid by a real validator (@action-validator/cli), wired to the
 * tools as the README says, and their shell steps shellcheck-clean.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { haveTool } from "./helpers";

const DIR = path.join(__dirname, "..", ".github", "workflows");
const VALIDATOR = path.join(__dirname, "..", "node_modules", ".bin", "action-validator");
const files = fs.readdirSync(DIR).filter((f) => f.endsWith(".yml")).sort();

interface Step { uses?: string; run?: string; with?: Record<string, unknown>; if?: string }
interface Job { "runs-on": string[]; steps: Step[]; strategy?: { matrix: { stack: string[] } }; if?: string }
const load = (file: string) => parse(fs.readFileSync(path.join(DIR, file), "utf8")) as { on: Record<string, unknown>; jobs: Record<string, Job> };

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

test("preview: both stacks, tests, offline policy, then pulumi preview with the pack and its per-stack config", () => {
    const job = load("preview.yml").jobs.preview;
    expect(job.strategy?.matrix.stack).toEqual(["host", "private", "public"]);
    expect(job["runs-on"]).toContain("self-hosted");
    expect(job.if).toContain("github.repository");
    const runs = job.steps.map((s) => s.run ?? s.uses);
    expect(runs).toEqual(expect.arrayContaining(["npm ci", "npm test", 'npm run policy -- --stack "${{ matrix.stack }}"']));
    const preview = job.steps.find((s) => s.uses?.startsWith("pulumi/actions"));
    expect(preview?.with).toMatchObject({ command: "preview", policyPacks: "policy", policyPackConfigs: "policy/config/${{ matrix.stack }}.json", "comment-on-pr": true });
});

test("drift: scheduled and manual, both stacks, uploads the report on failure", () => {
    const wf = load("drift.yml");
    expect(Object.keys(wf.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    const job = wf.jobs.drift;
    expect(job.strategy?.matrix.stack).toEqual(["host", "private", "public"]);
    expect(job.steps.some((s) => s.run?.includes("npm run -s drift -- --stack \"$STACK\" --json"))).toBe(true);
    expect(job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact"))?.if).toBe("failure()");
});

test("rebuild: manual only, with a typed confirmation checked before anything runs", () => {
    const wf = load("rebuild.yml");
    expect(Object.keys(wf.on)).toEqual(["workflow_dispatch"]);
    const steps = wf.jobs.rebuild.steps;
    expect(steps[0].run).toContain('"$CONFIRM" != "rebuild $STACK"');
    expect(steps[steps.length - 1].run).toContain("--include-private");
});

(haveTool("shellcheck") ? test : test.skip)("every run: step passes shellcheck", () => {
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
