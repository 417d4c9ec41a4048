/**
 * Reads a stack settings file (Pulumi.<stack>.yaml) the way the Pulumi CLI hands config
 * to a program: every value a string (objects as JSON), `secure:` values encrypted. Offline
 * we cannot decrypt, so secrets become placeholders the program treats as secrets.
 */
import { authOf, ConfigError, NAMESPACE, PLACEHOLDER_PREFIX, requiredSecretKeys } from "../../config/load";
import { configSectionOf as sectionOf, readConfigSection as readSection, StackFileError } from "../../config/stackFiles";
import { isRecord } from "../../graph";

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
    return asConfigError(() => readSection(file));
}

/**
 * The `config:` mapping of a stack file's text. A YAML syntax error names the line and
 * column; an empty file, a file that is not a mapping or one without `config:` says so once.
 */
export function configSectionOf(text: string, name: string): Record<string, unknown> {
    return asConfigError(() => sectionOf(text, name));
}

/** The tools report a broken stack file like any config problem: a ConfigError naming it. */
function asConfigError<T>(read: () => T): T {
    try {
        return read();
    } catch (err) {
        if (err instanceof StackFileError) {
            throw new ConfigError(err.problems);
        }
        throw err;
    }
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
    const kind = (section[`${NAMESPACE}:environment`] ?? section.environment) === "host" ? "host" : "environment";
    const containers = section[`${NAMESPACE}:containers`] ?? section.containers;
    for (const secret of requiredSecretKeys(authOf(section[`${NAMESPACE}:proxmox`] ?? section.proxmox), kind, containers)) {
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
