/**
 * Pulumi.yaml declares only what Pulumi's project schema can type (string, boolean,
 * integer, array); every declared key is one the program knows, and every stack file sets
 * the declared keys that have no default (Pulumi makes those required).
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { hostStackSchema } from "../config/hostSchema";
import { stackConfigSchema } from "../config/schema";
import { SECRET_KEYS } from "../config/load";

const ROOT = path.join(__dirname, "..");
const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
    name: string; runtime: { name: string }; config: Record<string, { type: string; description?: string; secret?: boolean; default?: unknown }>;
};

test("the project is ai-dualstack on nodejs with TypeScript", () => {
    expect(project.name).toBe("ai-dualstack");
    expect(project.runtime.name).toBe("nodejs");
});

test("each declaration has a type Pulumi knows and a description, and names a key the program reads", () => {
    const known = new Set([...Object.keys(stackConfigSchema.shape), ...Object.keys(hostStackSchema.shape), ...Object.values(SECRET_KEYS)]);
    for (const [key, decl] of Object.entries(project.config)) {
        expect({ key, type: ["string", "boolean", "integer", "array"].includes(decl.type) }).toEqual({ key, type: true });
        expect(decl.description?.length ?? 0).toBeGreaterThan(10);
        expect(known.has(key)).toBe(true);
    }
});

test.each(["host", "private", "public"])("Pulumi.%s.yaml sets every required declared key (secrets are set by the user with --secret)", (stack) => {
    const doc = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    for (const [key, decl] of Object.entries(project.config)) {
        if (decl.default === undefined && !decl.secret) {
            expect(doc.config).toHaveProperty([`ai-dualstack:${key}`]);
        }
    }
});
