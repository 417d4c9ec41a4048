/**
 * Imports run one way. The program (program.ts, components/, config/) and the policy pack
 * (policy/) never import the tools (tools/): the tools import them. The program never imports
 * the policy pack. What both sides share (the plan's types, the secret and unknown masks)
 * lives in graph/, which imports none of them.
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..");

/** Each area and the areas it must never import (top-level directories, or a top-level file). */
const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
    "graph": ["tools", "policy", "components", "config", "program.ts", "index.ts"],
    "config": ["tools", "policy", "components", "program.ts", "index.ts"],
    "components": ["tools", "policy", "program.ts", "index.ts"],
    "program.ts": ["tools", "policy"],
    "index.ts": ["tools", "policy"],
    "policy": ["tools", "program.ts", "index.ts"],
};

/** The top-level area a project file belongs to: its first directory, or the file itself at the top. */
function areaOf(file: string): string {
    return path.relative(ROOT, file).split(path.sep)[0];
}

function sourceFiles(area: string): string[] {
    const start = path.join(ROOT, area);
    if (fs.statSync(start).isFile()) return [start];
    const out: string[] = [];
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory() && entry.name !== "node_modules") walk(full);
            else if (entry.isFile() && entry.name.endsWith(".ts")) out.push(full);
        }
    };
    walk(start);
    return out;
}

/**
 * Every relative module a source text names, as TypeScript reads it: static imports,
 * `export ... from`, `import type`, `require(...)` and dynamic `import(...)`.
 */
function relativeImports(text: string): string[] {
    return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName).filter((name) => name.startsWith("."));
}

/** The imports of `file` (whose text is `text`) that leave its area for one it must not import. */
function violations(file: string, text: string): string[] {
    const forbidden = FORBIDDEN[areaOf(file)] ?? [];
    return relativeImports(text)
        .map((spec) => ({ spec, target: areaOf(path.resolve(path.dirname(file), spec)) }))
        .filter(({ target }) => forbidden.includes(target) || forbidden.includes(`${target}.ts`))
        .map(({ spec, target }) => `${path.relative(ROOT, file)} imports ${spec} (${target})`);
}

describe("imports run one way", () => {
    test.each(Object.keys(FORBIDDEN))("%s imports none of the areas above it", (area) => {
        const files = sourceFiles(area);
        expect(files.length).toBeGreaterThan(0);
        expect(files.flatMap((f) => violations(f, fs.readFileSync(f, "utf8")))).toEqual([]);
    });

    test("the check sees every form of import", () => {
        const inPolicy = path.join(ROOT, "policy", "rules", "example.ts");
        const source = [
            `import { SECRET_MASK } from "../../tools/lib/evaluate";`,
            `import type { PlanGraph } from "../../tools/lib/render";`,
            `export { x } from "../../tools/plan";`,
            `const a = require("../../tools/lib/cli");`,
            `const b = import("../../tools/lib/summary");`,
            `import { ok } from "../../graph";`,
            `import { also } from "../../config/load";`,
        ].join("\n");
        expect(violations(inPolicy, source)).toEqual([
            "policy/rules/example.ts imports ../../tools/lib/evaluate (tools)",
            "policy/rules/example.ts imports ../../tools/lib/render (tools)",
            "policy/rules/example.ts imports ../../tools/plan (tools)",
            "policy/rules/example.ts imports ../../tools/lib/cli (tools)",
            "policy/rules/example.ts imports ../../tools/lib/summary (tools)",
        ]);
        const inComponents = path.join(ROOT, "components", "host", "example.ts");
        expect(violations(inComponents, `import { rule } from "../../policy/rules/model";\nimport { program } from "../../program";`)).toEqual([
            "components/host/example.ts imports ../../policy/rules/model (policy)",
            "components/host/example.ts imports ../../program (program)",
        ]);
    });
});
