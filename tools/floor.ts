/**
 * The benchmark's floor programs as processes, launched by `npm run bench` exactly like
 * `npm run plan` (same launcher, same mocks), so their wall time is comparable:
 *
 *   node -r ./tools/register.js tools/floor.ts --replay PLAN.json   (the plan's own resources)
 *   node -r ./tools/register.js tools/floor.ts --bare N [--stack S] (N bare resources)
 *
 * Prints `evaluated <what>: N resources in T ms` on stderr, the line the plan prints too.
 */
import * as fs from "fs";
import { performance } from "perf_hooks";
import { parseFlags, runMain, UsageError } from "./lib/cli";
import type { PlanGraph } from "../graph";

const USAGE = "usage: node -r ./tools/register.js tools/floor.ts --replay PLAN.json | --bare N [--stack S]";

async function main(): Promise<number> {
    const flags = parseFlags(process.argv.slice(2), { replay: { type: "string" }, bare: { type: "string" }, stack: { type: "string" } }, USAGE);
    const { replayFloor, bareFloor } = await import("./lib/floor");
    const started = performance.now();
    let what: string;
    let count: number;
    if (flags.replay !== undefined) {
        const graph = JSON.parse(fs.readFileSync(flags.replay, "utf8")) as PlanGraph;
        what = `replay floor of stack ${graph.stack}`;
        count = await replayFloor(graph);
    } else if (flags.bare !== undefined && /^\d+$/.test(flags.bare)) {
        what = "bare floor";
        count = await bareFloor(flags.stack ?? "private", Number(flags.bare));
    } else {
        throw new UsageError(USAGE);
    }
    process.stderr.write(`evaluated ${what}: ${count} resources in ${(performance.now() - started).toFixed(0)} ms\n`);
    return 0;
}

runMain(main);
