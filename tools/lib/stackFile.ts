/**
 * Reads a stack settings file (Pulumi.<stack>.yaml) the way the Pulumi CLI hands config
 * to a program: every value a string (objects as JSON), `secure:` values encrypted. Offline
 * we cannot decrypt, so secrets become placeholders the program treats as secrets.
 */
import * as fs from "fs";
import * as path from "path";
import { parseDocument } from "yaml";
import { authOf, ConfigError, NAMESPACE, PLACEHOLDER_PREFIX, requiredSecretKeys } from "../../config/load";
import { describe } from "../../config/messages";
import { isRecord } from "./values";

export { PROJECT_DIR, stackFilePath } from "./paths";

export interface StackConfigFile {
    /** namespaced key -> value as the CLI passes it */
    readonly config: Record<string, string>;
    /** namespaced keys that hold secrets */
    readonly secretKeys: string[];
    /** secret keys the file did not set, filled with placeholders for the offline plan */
    readonly placeholders: string[];
    readonly file: string;
}

/** The `config:` section of a stack settings file, as plain data. Problems with the file itself are a ConfigError naming it. */
export function readConfigSection(file: string): Record<string, unknown> {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        throw new ConfigError([`${displayName(file)}: cannot be read`]);
    }
    return configSectionOf(text, displayName(file));
}

/**
 * The `config:` mapping of a stack file's text. A YAML syntax error names the line and
 * column; an empty file, a file that is not a mapping or one without `config:` says so once.
 */
export function configSectionOf(text: string, name: string): Record<string, unknown> {
    const doc = parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) {
        throw new ConfigError(doc.errors.map((e) => {
            const at = e.linePos?.[0];
            const where = at === undefined ? name : `${name}:${at.line}:${at.col}`;
            return `${where}: YAML syntax error: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`;
        }));
    }
    const top: unknown = doc.toJS();
    const expectation = "expected a mapping with a config: section of ai-dualstack:<key> entries";
    if (top === null || top === undefined) {
        throw new ConfigError([`${name}: is empty; ${expectation}`]);
    }
    if (!isRecord(top)) {
        throw new ConfigError([`${name}: ${expectation}, got ${describe(top)}`]);
    }
    if (!("config" in top)) {
        throw new ConfigError([`${name}: has no config: section; ${expectation} (top-level keys here: ${Object.keys(top).join(", ") || "none"})`]);
    }
    if (!isRecord(top.config)) {
        throw new ConfigError([`${name}: config: expected a mapping of ai-dualstack:<key> entries, got ${describe(top.config)}`]);
    }
    return top.config;
}

/** The file as a user would name it: relative to where they run the tool. */
function displayName(file: string): string {
    const relative = path.relative(process.cwd(), file);
    return relative === "" || relative.startsWith("..") ? file : relative;
}

export function readStackFile(file: string): StackConfigFile {
    return fromConfigSection(readConfigSection(file), file);
}

export function fromConfigSection(section: Record<string, unknown>, file = "<inline>"): StackConfigFile {
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [rawKey, value] of Object.entries(section)) {
        const key = rawKey.includes(":") ? rawKey : `${NAMESPACE}:${rawKey}`;
        if (isRecord(value) && typeof value.secure === "string") {
            config[key] = `${PLACEHOLDER_PREFIX}${key}`;
            secretKeys.push(key);
        } else if (value !== null && typeof value === "object") {
            config[key] = JSON.stringify(value, keepNonFinite);
        } else {
            config[key] = typeof value === "number" ? String(keepNonFinite("", value)) : String(value);
        }
    }
    const placeholders: string[] = [];
    for (const secret of requiredSecretKeys(authOf(section[`${NAMESPACE}:proxmox`] ?? section.proxmox))) {
        const key = `${NAMESPACE}:${secret}`;
        if (config[key] === undefined) {
            config[key] = `${PLACEHOLDER_PREFIX}${key}`;
            secretKeys.push(key);
            placeholders.push(key);
        }
    }
    return { config, secretKeys: secretKeys.sort(), placeholders, file };
}


/**
 * JSON has no Infinity or NaN: JSON.stringify would turn YAML's `.inf` into null and the
 * error would speak of an empty value. Keep the YAML text so the message names it.
 */
function keepNonFinite(_key: string, value: unknown): unknown {
    if (typeof value === "number" && !Number.isFinite(value)) {
        return Number.isNaN(value) ? ".nan" : value > 0 ? ".inf" : "-.inf";
    }
    return value;
}
