/**
 * npm run diagrams [-- --check]
 *
 * Regenerates the README's Mermaid diagrams from the real graphs (see
 * tools/lib/readmeDiagrams.ts for the markers). With --check it changes nothing and exits
 * 1 when the README's copy is stale.
 */
import * as fs from "fs";
import * as path from "path";
import { knownStacks, PROCESS_IO, runMain, toolArgs } from "./lib/cli";
import type { PlanDocument } from "../graph";
import { PROJECT_DIR } from "./lib/paths";
import { diagramNames, fillDiagrams } from "./lib/readmeDiagrams";

const USAGE = "usage: npm run diagrams [-- --check]";
export const README = path.join(PROJECT_DIR, "README.md");

/** Each marked diagram of `text`, rendered from the stacks' plans. */
export async function renderDiagrams(text: string, progress?: (m: string) => void): Promise<Map<string, string>> {
    const { planStack } = await import("./plan");
    const { renderMermaid } = await import("./lib/mermaid");
    const names = diagramNames(text);
    const stacks = [...new Set(names.flatMap((n) => (n === "all" ? knownStacks() : [n])))];
    const plans = new Map<string, PlanDocument>();
    for (const stack of stacks) {
        plans.set(stack, (await planStack(stack, { progress })).plan);
    }
    return new Map(names.map((n) => [n, renderMermaid(n === "all" ? knownStacks().map((s) => plans.get(s) as PlanDocument) : [plans.get(n) as PlanDocument])]));
}

async function main(): Promise<number> {
    const flags = toolArgs(process.argv.slice(2), { check: { type: "boolean" } }, USAGE, PROCESS_IO);
    if (typeof flags === "number") {
        return flags;
    }
    const text = fs.readFileSync(README, "utf8");
    const filled = fillDiagrams(text, await renderDiagrams(text, (m) => process.stderr.write(`${m}\n`)));
    if (flags.check) {
        process.stderr.write(filled === text ? "README diagrams are up to date\n" : "README diagrams are stale: run npm run diagrams\n");
        return filled === text ? 0 : 1;
    }
    fs.writeFileSync(README, filled);
    process.stderr.write(`README: ${diagramNames(text).length} diagram(s) regenerated\n`);
    return 0;
}

if (require.main === module) {
    runMain(main);
}
