/**
 * Reads a stack settings file (Pulumi.<stack>.yaml) the way the Pulumi CLI hands config
 * to a program: every value a string (objects as JSON), `secure:` values encrypted. Offline
 * we cannot decrypt, so secrets become placeholders the program treats as secrets.
 */
import * as path from "path";
import { readConfigSection as readSection } from "../../config/stackFiles";
import { authOf, NAMESPACE, PLACEHOLDER_PREFIX, requiredSecretKeys } from "../../config/load";
import { isRecord } from "./values";

export interface StackConfigFile {
    /** namespaced key -> value as the CLI passes it */
    readonly config: Record<string, string>;
    /** namespaced keys that hold secrets */
    readonly secretKeys: string[];
    /** secret keys the file did not set, filled with placeholders for the offline plan */
    readonly placeholders: string[];
    readonly file: string;
}

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

export function stackFilePath(stack: string): string {
    return path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`);
}

/** The `config:` section of a stack settings file, as plain data. */
export function readConfigSection(file: string): Record<string, unknown> {
    return readSection(file);
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

