/**
 * Reads a stack settings file (Pulumi.<stack>.yaml) the way the Pulumi CLI hands config
 * to a program: every value a string (objects as JSON), `secure:` values encrypted. Offline
 * we cannot decrypt, so secrets become placeholders the program treats as secrets.
 */
import * as fs from "fs";
import { parse } from "yaml";
import { authOf, NAMESPACE, PLACEHOLDER_PREFIX, requiredSecretKeys } from "../../config/load";
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

/** The `config:` section of a stack settings file, as plain data. */
export function readConfigSection(file: string): Record<string, unknown> {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        throw new Error(`cannot read stack config ${file}`);
    }
    const doc: unknown = parse(text);
    return isRecord(doc) && isRecord(doc.config) ? doc.config : {};
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
            config[key] = JSON.stringify(value);
        } else {
            config[key] = String(value);
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

