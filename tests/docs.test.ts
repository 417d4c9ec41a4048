/**
 * The docs match the code: every config key is in the README's reference, the quick
 * start is the two commands CI relies on, and CI runs the README's test command.
 */
import * as fs from "fs";
import * as path from "path";
import type { z } from "zod";
import { hostStackSchema } from "../config/hostSchema";
import { stackConfigSchema } from "../config/schema";
import { SECRET_KEYS } from "../config/load";

const ROOT = path.join(__dirname, "..");
const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

/** Field names of an object schema (through arrays and defaults), one level down. */
function fieldsOf(schema: z.ZodType): string[] {
    const def = (schema as unknown as { def: { type: string; innerType?: z.ZodType; element?: z.ZodType; shape?: Record<string, z.ZodType> } }).def;
    if (def.type === "object" && def.shape) return Object.keys(def.shape);
    if ((def.type === "default" || def.type === "prefault" || def.type === "optional" || def.type === "pipe") && def.innerType) return fieldsOf(def.innerType);
    if (def.type === "array" && def.element) return fieldsOf(def.element);
    return [];
}

test("every config key and field is in the README's config reference", () => {
    const reference = readme.slice(readme.indexOf("## Config reference"), readme.indexOf("## Policies"));
    const missing: string[] = [];
    let checked = 0;
    for (const [key, schema] of [...Object.entries(stackConfigSchema.shape), ...Object.entries(hostStackSchema.shape)]) {
        if (!reference.includes(`\`${key}\``)) missing.push(key);
        for (const field of fieldsOf(schema as z.ZodType)) {
            checked += 1;
            if (!reference.includes(`\`${field}\``)) missing.push(`${key}.${field}`);
        }
    }
    for (const secret of Object.values(SECRET_KEYS)) {
        if (!reference.includes(`\`${secret}\``)) missing.push(secret);
    }
    expect(missing).toEqual([]);
    // The walk really reaches the nested fields (gpu.pciAddress, containers[].role, ...).
    expect(checked).toBeGreaterThan(60);
});

test("the quick start is the two commands, and CI runs the README's test command", () => {
    expect(readme).toContain("npm ci && npm run plan -- --stack private");
    expect(readme).toContain("npm ci && npm test");
    const ci = fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8");
    expect(ci).toMatch(/^npm ci/m);
    expect(ci).toMatch(/^npm test/m);
});

test("every policy of the pack is in the README's policy table", async () => {
    const { RULES } = await import("../policy/rules");
    for (const rule of RULES) {
        expect(readme).toContain(`| \`${rule.name}\` |`);
    }
});

test("every quirk's sources are in the catalogue the README points to", async () => {
    const { QUIRKS } = await import("../components/quirks");
    for (const quirk of Object.values(QUIRKS)) {
        expect(quirk.sources.length).toBeGreaterThan(0);
        expect(quirk.why.length).toBeGreaterThan(10);
    }
    expect(readme).toContain("components/quirks.ts");
});

test("every workload of both stacks is in the README's workload table", async () => {
    const { evaluate } = await import("./helpers");
    const table = readme.slice(readme.indexOf("### Workloads on the AI VM"), readme.indexOf("## Real use"));
    const missing: string[] = [];
    for (const stack of ["private", "public"]) {
        const { graph, config } = await evaluate(stack);
        const workloads = graph.outputs.workloads as { name: string; kind: string }[];
        for (const w of workloads) {
            const short = w.name.slice(`${config.environment}-`.length);
            const row = w.kind === "poc" ? "(preset `poc`)" : `| \`${short}\``;
            if (!table.includes(row)) missing.push(`${w.name} (${w.kind})`);
        }
    }
    expect(missing).toEqual([]);
});
