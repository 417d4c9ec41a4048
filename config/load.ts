/**
 * Loads the stack config once: every `ai-dualstack:*` key, validated by the schema,
 * frozen. Components receive the result; nothing else reads `pulumi.Config`.
 */
import * as pulumi from "@pulumi/pulumi";
import { formatPath, StackConfig, stackConfigSchema, withDefaults } from "./schema";

export const NAMESPACE = "ai-dualstack";

/** Config keys that hold secrets: read with requireSecret, never validated as plain text. */
export const SECRET_KEYS = {
    /** Proxmox API token: `user@realm!tokenid=uuid` (proxmox.auth = token) */
    proxmoxApiToken: "proxmoxApiToken",
    /** password of proxmox.username (proxmox.auth = password) */
    proxmoxPassword: "proxmoxPassword",
    /** private key (OpenSSH PEM) for the SSH user on the Proxmox nodes */
    sshPrivateKey: "sshPrivateKey",
    /**
     * private key whose public half root's authorized_keys on the nodes restricts to
     * `ai-dualstack-vm-tune <env>` (from the host stack): hugepages, affinity, boot order
     */
    vmTuneKey: "vmTuneKey",
} as const;

export interface Secrets {
    /** the API credential the auth mode asks for: token or password */
    readonly proxmoxCredential: pulumi.Output<string>;
    readonly sshPrivateKey: pulumi.Output<string>;
    readonly vmTuneKey: pulumi.Output<string>;
}

type SecretKey = (typeof SECRET_KEYS)[keyof typeof SECRET_KEYS];

/** The secret keys a config needs: the SSH key and the credential of its auth mode. */
export function requiredSecretKeys(auth: StackConfig["proxmox"]["auth"]): SecretKey[] {
    return [auth === "token" ? SECRET_KEYS.proxmoxApiToken : SECRET_KEYS.proxmoxPassword, SECRET_KEYS.sshPrivateKey, SECRET_KEYS.vmTuneKey];
}

/** The auth mode a raw (possibly invalid) `proxmox` value asks for; token unless it says password. */
export function authOf(rawProxmox: unknown): StackConfig["proxmox"]["auth"] {
    return rawProxmox !== null && typeof rawProxmox === "object" && "auth" in rawProxmox && rawProxmox.auth === "password" ? "password" : "token";
}

export interface LoadedConfig {
    readonly stack: StackConfig;
    readonly secrets: Secrets;
}

/**
 * Bad config: one line per problem, each naming the key path. A RunError, so the Pulumi
 * CLI prints the lines without a stack trace.
 */
export class ConfigError extends pulumi.RunError {
    constructor(public readonly problems: readonly string[]) {
        super(`invalid stack config:\n${problems.join("\n")}`);
        this.name = "ConfigError";
    }
}

const API_TOKEN = /^[^\s@!]+@[^\s@!]+![A-Za-z][A-Za-z0-9._-]*=[0-9a-f-]{36}$/;

/**
 * Validates raw config values (key without namespace -> string as Pulumi passes it).
 * Pure: the plan tool and the tests call it without a Pulumi runtime. `secretKeys` is
 * undefined when the caller cannot tell which keys were stored as secrets.
 */
export function validateRawConfig(raw: Readonly<Record<string, string>>, secretKeys: ReadonlySet<string> | undefined): StackConfig {
    const problems: string[] = [];
    const values: Record<string, unknown> = {};
    const known = new Set<string>([...Object.keys(stackConfigSchema.shape), ...Object.values(SECRET_KEYS)]);

    for (const [key, text] of Object.entries(raw)) {
        if (!known.has(key)) {
            problems.push(`${NAMESPACE}:${key}: unknown config key (known: ${[...known].sort().join(", ")})`);
            continue;
        }
        if (Object.values<string>(SECRET_KEYS).includes(key)) {
            continue;
        }
        values[key] = parseValue(text);
    }

    const result = stackConfigSchema.safeParse(values);
    // Even when other fields are wrong, the secrets asked for follow the auth the user chose.
    const auth = authOf(values.proxmox);
    for (const key of Object.values(SECRET_KEYS)) {
        const where = `${NAMESPACE}:${key}`;
        if (raw[key] === undefined) {
            if (requiredSecretKeys(auth).includes(key)) {
                const env = values.environment === "private" || values.environment === "public" ? values.environment : "<environment>";
                const why = key === SECRET_KEYS.vmTuneKey ? ` (the host stack's output ${env}VmTuneKey)` : key === SECRET_KEYS.sshPrivateKey ? "" : ` with proxmox.auth ${auth}`;
                problems.push(`${where}: is required${why}; set it with: pulumi config set --secret ${key} <value>`);
            }
        } else if (secretKeys !== undefined && !secretKeys.has(key)) {
            problems.push(`${where}: must be stored as a secret; set it again with: pulumi config set --secret ${key} <value>`);
        }
    }
    const token = raw[SECRET_KEYS.proxmoxApiToken];
    if (token !== undefined && !API_TOKEN.test(token) && !token.startsWith(PLACEHOLDER_PREFIX)) {
        // The value itself is never printed.
        problems.push(`${NAMESPACE}:${SECRET_KEYS.proxmoxApiToken}: expected the form user@realm!tokenid=<uuid> (value not shown)`);
    }

    if (!result.success) {
        for (const issue of result.error.issues) {
            if (issue.code === "unrecognized_keys") {
                for (const key of issue.keys) {
                    problems.push(`${NAMESPACE}:${formatPath([...issue.path, key])}: unknown key`);
                }
                continue;
            }
            problems.push(`${NAMESPACE}:${formatPath(issue.path)}: ${issue.message}`);
        }
    }
    if (problems.length > 0 || !result.success) {
        throw new ConfigError(sortProblems(problems));
    }
    return deepFreeze(withDefaults(result.data));
}

/** The plan tool stands in for secrets with values starting with this. */
export const PLACEHOLDER_PREFIX = "plan-placeholder:";

/** Loads and validates this stack's config from the running Pulumi program. */
export function loadConfig(): LoadedConfig {
    const raw: Record<string, string> = {};
    const prefix = `${NAMESPACE}:`;
    for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (fullKey.startsWith(prefix)) {
            raw[fullKey.slice(prefix.length)] = value;
        }
    }
    const stack = validateRawConfig(raw, secretConfigKeys(prefix));
    const config = new pulumi.Config(NAMESPACE);
    const credential = stack.proxmox.auth === "token" ? SECRET_KEYS.proxmoxApiToken : SECRET_KEYS.proxmoxPassword;
    return {
        stack,
        secrets: {
            proxmoxCredential: config.requireSecret(credential),
            sshPrivateKey: config.requireSecret(SECRET_KEYS.sshPrivateKey),
            vmTuneKey: config.requireSecret(SECRET_KEYS.vmTuneKey),
        },
    };
}

/**
 * Which keys the Pulumi CLI passed as secrets. The language host (and the plan tool) put
 * them in PULUMI_CONFIG_SECRET_KEYS; the SDK has no public accessor for it.
 */
function secretConfigKeys(prefix: string): ReadonlySet<string> | undefined {
    const env = process.env.PULUMI_CONFIG_SECRET_KEYS;
    if (env === undefined || env === "") {
        return undefined;
    }
    const listed: unknown = JSON.parse(env);
    const keys = Array.isArray(listed) ? listed.filter((k): k is string => typeof k === "string") : [];
    return new Set(keys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)));
}

function parseValue(text: string): unknown {
    const trimmed = text.trim();
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
        try {
            return JSON.parse(trimmed);
        } catch {
            return text;
        }
    }
    return text;
}

function sortProblems(problems: string[]): string[] {
    return [...new Set(problems)].sort();
}

function deepFreeze<T>(value: T): T {
    if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const child of Object.values(value)) {
            deepFreeze(child);
        }
    }
    return value;
}
