/**
 * Loads the stack config once: every `ai-dualstack:*` key, validated by the schema,
 * frozen. Components receive the result; nothing else reads `pulumi.Config`.
 */
import * as pulumi from "@pulumi/pulumi";
import { escapeNonAscii, quote } from "./messages";
import { formatPath, StackConfig, stackConfigSchema, withDefaults } from "./schema";

export const NAMESPACE = "ai-dualstack";

/** Config keys that hold secrets: read with requireSecret, never validated as plain text. */
export const SECRET_KEYS = {
    /** Proxmox API token: `user@realm!tokenid=uuid` (proxmox.auth = token) */
    proxmoxApiToken: "proxmoxApiToken",
    /** password of proxmox.username (proxmox.auth = password) */
    proxmoxPassword: "proxmoxPassword",
    /** private key (OpenSSH PEM) for the SSH user on the Proxmox nodes and root in the containers */
    sshPrivateKey: "sshPrivateKey",
    /** GitHub Actions runner registration token (with a cicd container) */
    githubRunnerToken: "githubRunnerToken",
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
    /** set when the stack has a cicd container */
    readonly githubRunnerToken?: pulumi.Output<string>;
}

type SecretKey = (typeof SECRET_KEYS)[keyof typeof SECRET_KEYS];

/** The secret keys a config needs: the SSH key, the credential of its auth mode, the tune key, the runner token with a CI container. */
export function requiredSecretKeys(auth: StackConfig["proxmox"]["auth"], hasRunner = false): SecretKey[] {
    return [
        auth === "token" ? SECRET_KEYS.proxmoxApiToken : SECRET_KEYS.proxmoxPassword,
        SECRET_KEYS.sshPrivateKey,
        SECRET_KEYS.vmTuneKey,
        ...(hasRunner ? [SECRET_KEYS.githubRunnerToken] : []),
    ];
}

/** Whether a raw (possibly invalid) `containers` value has a cicd container. */
export function hasRunnerContainer(rawContainers: unknown): boolean {
    return Array.isArray(rawContainers) && rawContainers.some((ct) => ct !== null && typeof ct === "object" && "role" in ct && ct.role === "cicd");
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
export function validateRawConfig(raw: Readonly<Record<string, string>>, secretKeys: ReadonlySet<string> | undefined, context: ConfigContext = {}): StackConfig {
    const problems: string[] = [...namespaceProblems(context.otherKeys ?? [])];
    const values: Record<string, unknown> = {};
    const known = new Set<string>([...Object.keys(stackConfigSchema.shape), ...Object.values(SECRET_KEYS)]);

    for (const [key, text] of Object.entries(raw)) {
        if (!known.has(key)) {
            problems.push(`${NAMESPACE}:${escapeNonAscii(key)}: unknown config key (known: ${[...known].sort().join(", ")})`);
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
    const hasRunner = hasRunnerContainer(values.containers);
    for (const key of Object.values(SECRET_KEYS)) {
        const where = `${NAMESPACE}:${key}`;
        if (raw[key] === undefined) {
            if (requiredSecretKeys(auth, hasRunner).includes(key)) {
                const env = values.environment === "private" || values.environment === "public" ? values.environment : "<environment>";
                const why = key === SECRET_KEYS.vmTuneKey ? ` (the host stack's output ${env}VmTuneKey)`
                    : key === SECRET_KEYS.sshPrivateKey ? ""
                    : key === SECRET_KEYS.githubRunnerToken ? " with a cicd container (a registration token from the repository's Settings, Actions, Runners)"
                    : ` with proxmox.auth ${auth}`;
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
                    problems.push(`${NAMESPACE}:${escapeNonAscii(formatPath([...issue.path, key]))}: unknown key`);
                }
                continue;
            }
            problems.push(`${NAMESPACE}:${formatPath(issue.path)}: ${issue.message}`);
        }
    }
    if (result.success && context.stack !== undefined) {
        problems.push(...stackNameProblems(context.stack, result.data.environment));
    }
    if (problems.length > 0 || !result.success) {
        throw new ConfigError(sortProblems(problems));
    }
    return deepFreeze(withDefaults(result.data));
}

/** Where the config comes from, for the checks that look beyond the values. */
export interface ConfigContext {
    /** the stack the config is evaluated as: it must build the environment it is named after */
    readonly stack?: string;
    /** config keys in other namespaces than ai-dualstack (`proxmoxve:endpoint`), namespace included */
    readonly otherKeys?: readonly string[];
}

/**
 * Keys outside this project's namespace do nothing here (every provider is configured
 * explicitly from ai-dualstack: keys), so each one is reported rather than silently ignored.
 * `pulumi:` keys are the engine's own and pass.
 */
export function namespaceProblems(keys: readonly string[]): string[] {
    return keys.filter((k) => !k.startsWith("pulumi:")).map((full) => {
        const cut = full.indexOf(":");
        const namespace = cut < 0 ? full : full.slice(0, cut);
        const rest = cut < 0 ? "" : full.slice(cut + 1);
        if (looksLike(namespace, NAMESPACE)) {
            return `${escapeNonAscii(full)}: namespace ${quote(namespace)} is not ${quote(NAMESPACE)}; did you mean ${NAMESPACE}:${escapeNonAscii(rest)}?`;
        }
        return `${escapeNonAscii(full)}: not read by this program: its settings are ai-dualstack:<key> entries (every provider is configured from them explicitly)`;
    });
}

/** A near miss of the project's namespace: a typo, other case, or a look-alike character. */
function looksLike(a: string, b: string): boolean {
    return a !== b && editDistance(a.toLowerCase(), b) <= 2;
}

function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let diagonal = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const above = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
            diagonal = above;
        }
    }
    return row[b.length];
}

/**
 * A stack builds the environment it is named after (`private`, or `private-<suffix>` for a
 * second copy): evaluating the public file as the private stack would mix their state.
 */
export function stackNameProblems(stack: string, environment: string): string[] {
    if (stack === environment || stack.startsWith(`${environment}-`)) {
        return [];
    }
    return [`${NAMESPACE}:environment: is ${quote(environment)}, but this is the stack ${quote(stack)}; a stack builds the environment it is named after (Pulumi.${environment}.yaml is the ${environment} stack's file)`];
}

/** The plan tool stands in for secrets with values starting with this. */
export const PLACEHOLDER_PREFIX = "plan-placeholder:";

/** Loads and validates this stack's config from the running Pulumi program. */
export function loadConfig(): LoadedConfig {
    const raw: Record<string, string> = {};
    const otherKeys: string[] = [];
    const prefix = `${NAMESPACE}:`;
    for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (fullKey.startsWith(prefix)) {
            raw[fullKey.slice(prefix.length)] = value;
        } else {
            otherKeys.push(fullKey);
        }
    }
    const stack = validateRawConfig(raw, secretConfigKeys(prefix), { stack: pulumi.getStack(), otherKeys });
    const config = new pulumi.Config(NAMESPACE);
    const credential = stack.proxmox.auth === "token" ? SECRET_KEYS.proxmoxApiToken : SECRET_KEYS.proxmoxPassword;
    return {
        stack,
        secrets: {
            proxmoxCredential: config.requireSecret(credential),
            sshPrivateKey: config.requireSecret(SECRET_KEYS.sshPrivateKey),
            vmTuneKey: config.requireSecret(SECRET_KEYS.vmTuneKey),
            ...(stack.containers.some((ct) => ct.role === "cicd") ? { githubRunnerToken: config.requireSecret(SECRET_KEYS.githubRunnerToken) } : {}),
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
