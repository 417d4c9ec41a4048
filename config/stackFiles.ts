/**
 * Reads a stack settings file (`Pulumi.<stack>.yaml`) as plain config: how the host stack
 * reads both environments' files, and an environment reads the host stack's box-level
 * facts. Secrets (`secure:` values) are never read here: a sibling's facts are all plain.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

export const NAMESPACE = "ai-dualstack";

/** The project directory: stack files named by other stack files are relative to it. */
export const PROJECT_DIR = path.resolve(__dirname, "..");

export function isRecord(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A file named in config: absolute as given, else relative to the project. */
export function resolveStackFile(file: string, dir: string = PROJECT_DIR): string {
    return path.isAbsolute(file) ? file : path.join(dir, file);
}

export class StackFileError extends Error {}

/** The `config:` section of a stack settings file, as plain data. */
export function readConfigSection(file: string): Record<string, unknown> {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        throw new StackFileError(`cannot read stack config ${file}`);
    }
    const doc: unknown = parse(text);
    return isRecord(doc) && isRecord(doc.config) ? doc.config : {};
}

/**
 * The project's own keys of a config section, namespace removed, values as data (not
 * strings), secrets left out: what the schemas validate.
 */
export function plainValues(section: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [rawKey, value] of Object.entries(section)) {
        const key = rawKey.includes(":") ? rawKey : `${NAMESPACE}:${rawKey}`;
        if (!key.startsWith(`${NAMESPACE}:`) || (isRecord(value) && typeof value.secure === "string")) {
            continue;
        }
        out[key.slice(NAMESPACE.length + 1)] = value;
    }
    return out;
}
