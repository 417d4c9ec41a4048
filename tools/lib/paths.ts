/**
 * Where the project's files are. Imports nothing heavy, so a tool can answer `--help` or
 * "unknown stack" without loading the Pulumi SDK or the program.
 */
import * as fs from "fs";
import * as path from "path";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

export function stackFilePath(stack: string): string {
    return path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`);
}

/** Stacks that have a settings file in the project (every Pulumi.<stack>.yaml). */
export function knownStacks(): string[] {
    return fs.readdirSync(PROJECT_DIR)
        .map((f) => /^Pulumi\.([^.]+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}
