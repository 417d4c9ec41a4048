/**
 * Loads the stack config once: every `ai-dualstack:*` key, validated by the schema,
 * frozen. Components receive the result; nothing else reads `pulumi.Config`.
 */
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { boxFactProblems, crossEnvironmentProblems } from "./crossEnvironment";
import { HOST_ENVIRONMENTS, HostStackParsed, hostStackRules, hostStackSchema } from "./hostSchema";
import { escapeNonAscii, formatPath, quote } from "./messages";
import { ConfigProblem, environmentRules } from "./rules";
import { BoxFacts, DEFAULT_HOST_STACK_FILE, EnvironmentName, StackConfig, stackConfigSchema, withDefaults } from "./schema";
import { NAMESPACE, plainValues, readConfigSection, resolveStackFile, StackFileError } from "./stackFiles";

export { NAMESPACE };

/** Config keys that hold secrets: read with requireSecret, never validated as plain text. */
export const SECRET_KEYS = {
    /** Proxmox API token: `user@realm!tokenid=uuid` (proxmox.auth = token) */
    proxmoxApiToken: "proxmoxApiToken",
    /** password of proxmox.username (proxmox.auth = password) */
    proxmoxPassword: "proxmoxPassword",
    /** private key (OpenSSH PEM) for the SSH user on the Proxmox nodes and root in the containers */
    sshPrivateKey: "sshPrivateKey",
    /** GitHub Actions runner registration token (an environment with a cicd container) */
    githubRunnerToken: "githubRunnerToken",
    /**
     * read-only Proxmox API token `user@realm!tokenid=uuid` for prometheus-pve-exporter (an
     * environment with a monitoring container): the host stack's output monitoringAuditToken
     */
    pveAuditToken: "pveAuditToken",
    /**
     * private key whose public half root's authorized_keys on the nodes restricts to
     * `ai-dualstack-vm-tune <env>` (from the host stack): hugepages, affinity, boot order
     */
    vmTuneKey: "vmTuneKey",
} as const;

/** The host stack's secrets: its root login and the nodes' SSH key. */
export interface HostSecrets {
    /** the API credential the auth mode asks for: token or password */
    readonly proxmoxCredential: pulumi.Output<string>;
    readonly sshPrivateKey: pulumi.Output<string>;
}

/** An environment stack's secrets: also the tune key the host stack generated for it. */
export interface Secrets extends HostSecrets {
    readonly vmTuneKey: pulumi.Output<string>;
    /** set when the stack has a cicd container */
    readonly githubRunnerToken?: pulumi.Output<string>;
    /** set when the stack has a monitoring container */
    readonly pveAuditToken?: pulumi.Output<string>;
}

type SecretKey = (typeof SECRET_KEYS)[keyof typeof SECRET_KEYS];

/**
 * The secret keys a config needs: the SSH key, the credential of its auth mode and, for an
 * environment, its tune key (the host stack generates the tune keys, so it needs none) and
 * the runner token when it has a cicd container, the read-only pve token when it has a
 * monitoring container.
 */
export function requiredSecretKeys(auth: StackConfig["proxmox"]["auth"], kind: ValidatedConfig["kind"] = "environment", rawContainers: unknown = []): SecretKey[] {
    const keys: SecretKey[] = [auth === "token" ? SECRET_KEYS.proxmoxApiToken : SECRET_KEYS.proxmoxPassword, SECRET_KEYS.sshPrivateKey];
    return kind === "host" ? keys : [...keys, SECRET_KEYS.vmTuneKey, ...roleSecrets(rawContainers).map((r) => r.key)];
}

/** The secrets a container role brings to its environment, and where the user gets each. */
const ROLE_SECRETS = [
    { role: "cicd", key: SECRET_KEYS.githubRunnerToken, where: "a registration token from the repository's Settings, Actions, Runners" },
    { role: "monitoring", key: SECRET_KEYS.pveAuditToken, where: "the host stack's output monitoringAuditToken" },
] as const;

/** The role secrets of a raw (possibly invalid) `containers` value. */
function roleSecrets(rawContainers: unknown): (typeof ROLE_SECRETS)[number][] {
    const roles = new Set(Array.isArray(rawContainers) ? rawContainers.map((ct: unknown) => (ct !== null && typeof ct === "object" && "role" in ct ? ct.role : undefined)) : []);
    return ROLE_SECRETS.filter((r) => roles.has(r.role));
}

/** The auth mode a raw (possibly invalid) `proxmox` value asks for; token unless it says password. */
export function authOf(rawProxmox: unknown): StackConfig["proxmox"]["auth"] {
    return rawProxmox !== null && typeof rawProxmox === "object" && "auth" in rawProxmox && rawProxmox.auth === "password" ? "password" : "token";
}

/** A validated environment stack (`private` or `public`). */
export interface EnvironmentStackConfig {
    readonly kind: "environment";
    readonly stack: StackConfig;
}

/** One environment as the host stack reads it: its stack file and its validated config. */
export interface EnvironmentStack {
    readonly environment: EnvironmentName;
    /** the stack file as named in the host file (for messages) */
    readonly file: string;
    readonly config: StackConfig;
}

/** A validated host stack: its box-level facts and both environments' validated files. */
export interface HostStackConfig {
    readonly kind: "host";
    /** the host file as named in messages */
    readonly file: string;
    readonly box: HostStackParsed;
    readonly environments: readonly EnvironmentStack[];
}

export type ValidatedConfig = EnvironmentStackConfig | HostStackConfig;

/** An environment's config from a validation result; the host stack is refused by name. */
export function environmentOnly(validated: ValidatedConfig, what: string): StackConfig {
    if (validated.kind !== "environment") {
        throw new ConfigError([`${NAMESPACE}:environment: ${what} works on an environment stack (private or public), got the host stack`]);
    }
    return validated.stack;
}

/** The host stack file an environment names (`hostStack`), validated; throws a ConfigError naming it. */
function hostStackOf(config: StackConfig, dir?: string): HostStackParsed {
    const host = readHostStack(config.hostStack, dir);
    if (host.config === undefined) {
        throw new ConfigError(sortProblems(host.problems));
    }
    return host.config;
}

/** Where SSH and the admin UIs may come from: the host stack file's firewall.adminSources. */
export function adminSourcesOf(config: StackConfig, dir?: string): readonly string[] {
    return hostStackOf(config, dir).firewall.adminSources;
}

/** The storage the host stack's backup job writes to (host file backup.storage). */
export function backupStorageOf(config: StackConfig, dir?: string): string {
    return hostStackOf(config, dir).backup.storage;
}

/**
 * The other environments of the box, as the host file lists them (`environments`), each
 * validated with the same schema and rules as its own stack, against the same box facts.
 * For the one wiring that crosses environments: the private monitoring container scrapes
 * the public exporters, and the public guests admit it. Throws a ConfigError whose lines
 * name the file to fix.
 */
export function otherEnvironmentsOf(config: StackConfig, dir?: string): StackConfig[] {
    const host = hostStackOf(config, dir);
    const box = boxFacts(host);
    return HOST_ENVIRONMENTS.filter((env) => env !== config.environment)
        .map((env) => readEnvironmentStack(host.environments[env], box, dir, env));
}

export type LoadedConfig =
    | (EnvironmentStackConfig & { readonly secrets: Secrets })
    | (HostStackConfig & { readonly secrets: HostSecrets });

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

/** A Proxmox API token as `pulumi config` holds it: user@realm (1), token id (2), secret uuid (3). */
export const API_TOKEN = /^([^\s@!]+@[^\s@!]+)!([A-Za-z][A-Za-z0-9._-]*)=([0-9a-f-]{36})$/;

/** Where the config comes from: where validation finds the sibling stack files, how it names this one, which stack runs it. */
export interface ConfigContext {
    /** directory that relative stack-file names are resolved in (default: the project) */
    readonly dir?: string;
    /** this stack's file name, used when a sibling's problem points back at it */
    readonly file?: string;
    /** the stack the config is evaluated as: it must build the environment it is named after */
    readonly stack?: string;
    /** config keys in other namespaces than ai-dualstack (`proxmoxve:endpoint`), namespace included */
    readonly otherKeys?: readonly string[];
}

export type ValidateOptions = ConfigContext;

/**
 * Validates raw config values (key without namespace -> string as Pulumi passes it).
 * Pure apart from reading the sibling stack files it names: the plan tool and the tests
 * call it without a Pulumi runtime. `secretKeys` is undefined when the caller cannot tell
 * which keys were stored as secrets.
 */
export function validateRawConfig(raw: Readonly<Record<string, string>>, secretKeys: ReadonlySet<string> | undefined, options: ConfigContext = {}): ValidatedConfig {
    const problems: string[] = [...namespaceProblems(options.otherKeys ?? [])];
    const values: Record<string, unknown> = {};
    const isHost = raw.environment === "host";
    const shape = isHost ? hostStackSchema.shape : stackConfigSchema.shape;
    // The host stack generates the tune keys and the monitoring token and runs no runner; it reads none of them.
    const secretNames: string[] = Object.values(SECRET_KEYS).filter((k) => !isHost || (k !== SECRET_KEYS.vmTuneKey && !ROLE_SECRETS.some((r) => r.key === k)));
    const known = new Set<string>([...Object.keys(shape), ...secretNames]);

    for (const [key, text] of Object.entries(raw)) {
        if (!known.has(key)) {
            problems.push(`${NAMESPACE}:${escapeNonAscii(key)}: unknown config key (known: ${[...known].sort().join(", ")})`);
            continue;
        }
        if (secretNames.includes(key)) {
            continue;
        }
        values[key] = parseValue(text);
    }

    // Even when other fields are wrong, the secrets asked for follow the auth the user chose.
    const auth = authOf(values.proxmox);
    for (const key of secretNames) {
        const where = `${NAMESPACE}:${key}`;
        if (raw[key] === undefined) {
            if ((requiredSecretKeys(auth, isHost ? "host" : "environment", values.containers) as string[]).includes(key)) {
                const env = values.environment === "private" || values.environment === "public" ? values.environment : "<environment>";
                const role = ROLE_SECRETS.find((r) => r.key === key);
                const why = key === SECRET_KEYS.vmTuneKey ? ` (the host stack's output ${env}VmTuneKey)`
                    : key === SECRET_KEYS.sshPrivateKey ? ""
                    : role !== undefined ? ` with a ${role.role} container (${role.where})`
                    : ` with proxmox.auth ${auth}`;
                problems.push(`${where}: is required${why}; set it with: pulumi config set --secret ${key} <value>`);
            }
        } else if (secretKeys !== undefined && !secretKeys.has(key)) {
            problems.push(`${where}: must be stored as a secret; set it again with: pulumi config set --secret ${key} <value>`);
        }
    }
    for (const key of [SECRET_KEYS.proxmoxApiToken, SECRET_KEYS.pveAuditToken]) {
        const token = raw[key];
        if (token !== undefined && !API_TOKEN.test(token) && !token.startsWith(PLACEHOLDER_PREFIX)) {
            // The value itself is never printed.
            problems.push(`${NAMESPACE}:${key}: expected the form user@realm!tokenid=<uuid> (value not shown)`);
        }
    }

    const result = isHost ? validateHostValues(values, options) : validateEnvironmentValues(values, options);
    problems.push(...result.problems);
    const environment = isHost ? "host" : result.config?.kind === "environment" ? result.config.stack.environment : undefined;
    if (environment !== undefined && options.stack !== undefined) {
        problems.push(...stackNameProblems(options.stack, environment));
    }
    if (problems.length > 0 || result.config === undefined) {
        throw new ConfigError(sortProblems(problems));
    }
    return deepFreeze(result.config);
}

interface Checked<T> {
    readonly config?: T;
    readonly problems: string[];
}

/** zod issues as `ai-dualstack:<path>: <message>` lines. */
function issueLines(issues: readonly z.core.$ZodIssue[]): string[] {
    return issues.flatMap((issue) => issue.code === "unrecognized_keys"
        ? issue.keys.map((key) => `${NAMESPACE}:${escapeNonAscii(formatPath([...issue.path, key]))}: unknown key`)
        : [`${NAMESPACE}:${formatPath(issue.path)}: ${issue.message}`]);
}

const ruleLines = (problems: readonly ConfigProblem[]) => problems.map((p) => `${NAMESPACE}:${formatPath(p.path)}: ${p.message}`);

/** Prefixes a sibling file's lines with its name, so a line says which file to fix. */
const inFile = (file: string, lines: readonly string[]) => lines.map((l) => `${file} ${l}`);

/**
 * An environment's values against the environment schema and its rules, with the box facts
 * read from the host stack's file it names. Lines name keys of this file; a problem in the
 * host file is prefixed with that file's name.
 */
function validateEnvironmentValues(values: Record<string, unknown>, options: ConfigContext): Checked<EnvironmentStackConfig> {
    const parsed = stackConfigSchema.safeParse(values);
    const hostFile = typeof values.hostStack === "string" ? values.hostStack : DEFAULT_HOST_STACK_FILE;
    const host = readHostStack(hostFile, options.dir);
    if (!parsed.success) {
        return { problems: [...issueLines(parsed.error.issues), ...host.problems] };
    }
    if (host.config === undefined) {
        return { problems: host.problems };
    }
    const box = boxFacts(host.config);
    const problems = ruleLines(environmentRules(parsed.data, box));
    if (problems.length > 0) {
        return { problems };
    }
    const stack = withDefaults(parsed.data, box);
    // Where this file's values meet the host file's (VLAN interface names, storage ids).
    const file = options.file ?? `Pulumi.${parsed.data.environment}.yaml`;
    const meet = boxFactProblems({ file: hostFile, config: host.config }, { file, config: stack });
    return meet.length > 0 ? { problems: meet } : { problems, config: { kind: "environment", stack } };
}

/** The box facts an environment reads from the host file. */
export function boxFacts(host: HostStackParsed): BoxFacts {
    return { hosts: host.hosts, images: host.images };
}

/** Another stack's `config:` section: its YAML problems as they are, an unreadable file as `unreadable`. */
function readSiblingSection(file: string, dir: string | undefined, unreadable: string): { section: Record<string, unknown> } | { problems: string[] } {
    try {
        return { section: readConfigSection(resolveStackFile(file, dir), file) };
    } catch (err) {
        if (err instanceof StackFileError && !err.unreadable) {
            return { problems: [...err.problems] };
        }
        return { problems: [unreadable] };
    }
}

/**
 * Reads and validates the host stack's settings file (its box-level facts only; the host
 * stack's secrets are not read). Problems are prefixed with the file's name.
 */
export function readHostStack(file: string, dir?: string): Checked<HostStackParsed> {
    const read = readSiblingSection(file, dir, `ai-dualstack:hostStack: ${file} cannot be read: write the host stack's settings file first (see the README, "Order of operations")`);
    if ("problems" in read) {
        return read;
    }
    const values = plainValues(read.section);
    const parsed = hostStackSchema.safeParse(values);
    if (!parsed.success) {
        return { problems: inFile(file, issueLines(parsed.error.issues)) };
    }
    const problems = inFile(file, ruleLines(hostStackRules(parsed.data)));
    return problems.length > 0 ? { problems } : { problems, config: parsed.data };
}

/**
 * Reads a sibling environment's stack file and validates it with the same schema and
 * rules its own stack uses, against the given box facts. For the host stack (both
 * environments) and for any stack that needs to know another environment's guests.
 * Throws a ConfigError whose lines start with the file's name.
 */
export function readEnvironmentStack(file: string, box: BoxFacts, dir?: string, expected?: EnvironmentName): StackConfig {
    const checked = checkEnvironmentFile(file, box, dir, expected);
    if (checked.config === undefined) {
        throw new ConfigError(sortProblems(checked.problems));
    }
    return deepFreeze(checked.config);
}

function checkEnvironmentFile(file: string, box: BoxFacts, dir: string | undefined, expected: EnvironmentName | undefined): Checked<StackConfig> {
    const read = readSiblingSection(file, dir, `${file}: cannot be read; the host stack reads each environment's stack file (host file key environments)`);
    if ("problems" in read) {
        return read;
    }
    const values = plainValues(read.section);
    const parsed = stackConfigSchema.safeParse(values);
    if (!parsed.success) {
        return { problems: inFile(file, issueLines(parsed.error.issues)) };
    }
    const problems = inFile(file, ruleLines(environmentRules(parsed.data, box)));
    if (expected !== undefined && parsed.data.environment !== expected) {
        problems.push(`${file} ai-dualstack:environment: the host file lists this file as the ${expected} environment, but it says ${parsed.data.environment}`);
    }
    return problems.length > 0 ? { problems } : { problems, config: withDefaults(parsed.data, box) };
}

/** The host stack's values, both environment files, and the checks across them. */
function validateHostValues(values: Record<string, unknown>, options: ValidateOptions): Checked<HostStackConfig> {
    const parsed = hostStackSchema.safeParse(values);
    if (!parsed.success) {
        return { problems: issueLines(parsed.error.issues) };
    }
    const problems = ruleLines(hostStackRules(parsed.data));
    if (problems.length > 0) {
        return { problems };
    }
    const box = boxFacts(parsed.data);
    const environments: EnvironmentStack[] = [];
    for (const env of HOST_ENVIRONMENTS) {
        const file = parsed.data.environments[env];
        const checked = checkEnvironmentFile(file, box, options.dir, env);
        problems.push(...checked.problems);
        if (checked.config !== undefined) {
            environments.push({ environment: env, file, config: checked.config });
        }
    }
    if (problems.length > 0) {
        return { problems };
    }
    const hostFile = options.file ?? "Pulumi.host.yaml";
    const cross = crossEnvironmentProblems({ file: hostFile, config: parsed.data }, environments);
    return cross.length > 0 ? { problems: cross } : { problems: [], config: { kind: "host", file: hostFile, box: parsed.data, environments } };
}

/**
 * Keys outside this project's namespace do nothing here (every provider is configured
 * explicitly from ai-dualstack: keys), so each one is reported rather than silently ignored.
 * `pulumi:` keys are the engine's own and pass.
 */
function namespaceProblems(keys: readonly string[]): string[] {
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
 * The host stack (`environment: host`) is the stack `host` (or `host-<suffix>`).
 */
function stackNameProblems(stack: string, environment: string): string[] {
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
    const stack = pulumi.getStack();
    const validated = validateRawConfig(raw, secretConfigKeys(prefix), { file: `Pulumi.${stack}.yaml`, stack, otherKeys });
    const config = new pulumi.Config(NAMESPACE);
    const proxmox = validated.kind === "host" ? validated.box.proxmox : validated.stack.proxmox;
    const credential = proxmox.auth === "token" ? SECRET_KEYS.proxmoxApiToken : SECRET_KEYS.proxmoxPassword;
    const secrets: HostSecrets = {
        proxmoxCredential: config.requireSecret(credential),
        sshPrivateKey: config.requireSecret(SECRET_KEYS.sshPrivateKey),
    };
    return validated.kind === "host"
        ? { ...validated, secrets }
        : {
            ...validated,
            secrets: {
                ...secrets,
                vmTuneKey: config.requireSecret(SECRET_KEYS.vmTuneKey),
                ...Object.fromEntries(roleSecrets(validated.stack.containers).map((r) => [r.key, config.requireSecret(r.key)])),
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
