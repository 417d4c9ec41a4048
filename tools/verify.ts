/**
 * npm run verify -- --stack <private|public> [--json] [--skip-benchmark]
 *
 * Checks a deployed environment from the outside: every workload's health endpoint,
 * Ollama's models (present, entirely in VRAM, fast enough), a vector-store round trip,
 * PostgreSQL and Redis logins with the apps' credentials, and isolation probes over SSH.
 * Reads the stack's outputs (`tools/lib/verifyTargets.ts`) and config through the Pulumi CLI.
 *
 * Exit codes: 0 all checks passed; 2 a check failed or a benchmark missed its target;
 * 1 the checks could not run (no Pulumi CLI, no outputs, no route to the environment).
 */
import { adminSourcesOf, ConfigError, environmentOnly, NAMESPACE, validateRawConfig } from "../config/load";
import type { StackConfig } from "../config/schema";
import { CliMissingError, explainAutomationError, pulumiReader, ReaderBackend } from "./lib/automation";
import { PROCESS_IO, runMain, stackToolArgs, ToolIO } from "./lib/cli";
import { CommandRunner, processRunner } from "./lib/runner";
import { readStackFile, stackFilePath } from "./lib/stackFile";
import { checkPostgres, checkRedis } from "./lib/verify/databases";
import { describeStatus, Reachability, request } from "./lib/verify/http";
import { plannedProbes, runProbes } from "./lib/verify/isolation";
import { checkOllama } from "./lib/verify/ollama";
import { buildReport, Check, renderReport, VerifyReport, verifyExitCode } from "./lib/verify/report";
import { checkVectorStore } from "./lib/verify/vectorStore";
import { onVmLoopback, OpenTunnel, sshTunnel, throughTunnel, Tunnel } from "./lib/verify/tunnel";
import { parseVerifyTargets, TargetsError, VerifyTargets } from "./lib/verifyTargets";

const USAGE = "usage: npm run verify -- --stack <private|public> [--json] [--skip-benchmark]";

export interface VerifyDeps {
    readonly reader: ReaderBackend;
    readonly runner: CommandRunner;
    readonly io: ToolIO;
    /** the other environment's validated config (default: its stack file in this repo) */
    readonly otherConfig?: (environment: StackConfig["environment"]) => StackConfig;
    /** benchmark runs per model (default 3) */
    readonly benchmarkRuns?: number;
    /** opens an SSH forward to a port on the AI VM's loopback (default: real ssh) */
    readonly openTunnel?: OpenTunnel;
}

export async function runVerify(argv: string[], deps: VerifyDeps): Promise<number> {
    const { io } = deps;
    const args = stackToolArgs(argv, { stack: { type: "string" }, json: { type: "boolean" }, "skip-benchmark": { type: "boolean" } }, USAGE, io);
    if (typeof args === "number") {
        return args;
    }
    const { flags, stack } = args;
    const progress = (line: string) => io.err(`verify ${stack}: ${line}\n`);
    let targets: VerifyTargets;
    let config: StackConfig;
    let sshPrivateKey: string | undefined;
    try {
        progress("reading the stack's outputs and config through the Pulumi CLI");
        ({ targets, config, sshPrivateKey } = await readStack(stack, deps.reader));
    } catch (err) {
        io.err(`verify: ${describeReadError(stack, err)}\n`);
        return 1;
    }

    const report = await runChecks(stack, targets, config, sshPrivateKey, deps, flags["skip-benchmark"] === true, progress);
    io.out(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
    if (report.noRoute !== undefined) {
        io.err(`verify: ${report.noRoute}\n`);
    }
    return verifyExitCode(report);
}

async function readStack(stack: string, backend: ReaderBackend): Promise<{ targets: VerifyTargets; config: StackConfig; sshPrivateKey: string | undefined }> {
    const reader = await backend.read(stack);
    const { values, secretKeys } = await reader.config();
    const prefix = `${NAMESPACE}:`;
    const raw = Object.fromEntries(Object.entries(values).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    const config = environmentOnly(validateRawConfig(raw, new Set(secretKeys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)))), "npm run verify");
    const targets = parseVerifyTargets(stack, await reader.outputs());
    return { targets, config, sshPrivateKey: raw.sshPrivateKey };
}

function describeReadError(stack: string, err: unknown): string {
    if (err instanceof CliMissingError || err instanceof TargetsError) {
        return err.message;
    }
    if (err instanceof ConfigError) {
        return `stack ${stack}'s config is not valid:\n${err.problems.join("\n")}`;
    }
    return explainAutomationError(stack, err);
}

async function runChecks(stack: string, given: VerifyTargets, config: StackConfig, sshPrivateKey: string | undefined, deps: VerifyDeps, skipBenchmark: boolean, progress: (line: string) => void): Promise<VerifyReport> {
    const tunnels: Tunnel[] = [];
    try {
        const { targets, problems } = await tunnelled(given, config, sshPrivateKey, deps.openTunnel ?? sshTunnel, tunnels, progress);
        return await checkAll(stack, targets, problems, config, sshPrivateKey, deps, skipBenchmark, progress);
    } finally {
        tunnels.forEach((t) => t.close());
    }
}

/**
 * The targets with every URL on the AI VM's loopback (Chroma) replaced by the local end of
 * an SSH forward; a forward that cannot be opened becomes a failed check of that service.
 */
async function tunnelled(
    targets: VerifyTargets, config: StackConfig, sshPrivateKey: string | undefined, open: OpenTunnel, tunnels: Tunnel[], progress: (line: string) => void,
): Promise<{ targets: VerifyTargets; problems: Map<string, string> }> {
    const ports = new Map<number, number>();
    const problems = new Map<string, string>();
    const hostKey = targets.sshHostKeys[config.aiVm.name];
    const local = async (url: string): Promise<string> => {
        if (!onVmLoopback(url)) {
            return url;
        }
        const remotePort = Number(new URL(url).port || 80);
        if (!ports.has(remotePort)) {
            if (hostKey === undefined || sshPrivateKey === undefined) {
                problems.set(url, `on the AI VM's loopback, and ${hostKey === undefined ? `sshHostKeys has no key for ${config.aiVm.name}` : "the stack has no sshPrivateKey"} to tunnel there`);
                return url;
            }
            progress(`tunnel: ssh ${config.aiVm.user}@${config.aiVm.ip} -L ...:127.0.0.1:${remotePort}`);
            try {
                const tunnel = await open({ host: config.aiVm.ip, user: config.aiVm.user, hostKey, privateKey: sshPrivateKey, remotePort });
                tunnels.push(tunnel);
                ports.set(remotePort, tunnel.localPort);
            } catch (err) {
                problems.set(url, (err as Error).message);
                return url;
            }
        }
        return throughTunnel(url, ports.get(remotePort) as number);
    };
    const workloads = [];
    for (const w of targets.workloads) {
        workloads.push({ ...w, url: await local(w.url) });
    }
    return { targets: { ...targets, workloads, vectorStore: { ...targets.vectorStore, url: await local(targets.vectorStore.url) } }, problems };
}

async function checkAll(stack: string, targets: VerifyTargets, tunnelProblems: ReadonlyMap<string, string>, config: StackConfig, sshPrivateKey: string | undefined, deps: VerifyDeps, skipBenchmark: boolean, progress: (line: string) => void): Promise<VerifyReport> {
    const reach = new Reachability();
    const checks: Check[] = [];
    for (const [url, problem] of tunnelProblems) {
        checks.push({ group: "services", name: url, status: "fail", detail: problem });
    }

    for (const w of targets.workloads) {
        progress(`services: ${w.name} ${w.url}${w.healthPath}`);
        checks.push(await checkWorkload(w, reach));
    }
    const embedding = new Set(config.apps.flatMap((app) => ("embeddingModel" in app ? [app.embeddingModel] : [])));
    const models = config.models.map((m) => ({ ...m, embedding: embedding.has(m.name) }));
    checks.push(...await checkOllama(targets.ollama.url, models, { benchmark: !skipBenchmark, runs: deps.benchmarkRuns, progress, reach }));
    checks.push(await checkVectorStore(targets.vectorStore, progress, reach));

    if (reach.attempted > 0 && reach.unreachable === reach.attempted) {
        return buildReport(stack, checks, `no route to the ${config.environment} environment (${config.network.subnet}): none of its ${reach.attempted} HTTP requests got an answer `
            + `(first: ${reach.firstFailure}). Run verify from a machine that reaches that subnet (see the README, "Is it working?").`);
    }

    for (const pg of targets.postgres) {
        progress(`databases: PostgreSQL login of ${pg.app}`);
        checks.push(await checkPostgres(pg.app, pg.connectionString));
    }
    for (const r of targets.redis) {
        progress(`databases: Redis login of ${r.app}`);
        checks.push(await checkRedis(r.app, r.connectionString));
    }

    checks.push(...await isolationChecks(config, targets, sshPrivateKey, deps, progress));
    return buildReport(stack, checks);
}

async function checkWorkload(w: VerifyTargets["workloads"][number], reach: Reachability): Promise<Check> {
    const url = `${w.url.replace(/\/+$/, "")}${w.healthPath}`;
    try {
        const r = await request("GET", url, { timeoutMs: 10_000 }, reach);
        return r.status < 400
            ? { group: "services", name: w.name, status: "pass", detail: `${w.healthPath}: HTTP ${r.status}` }
            : { group: "services", name: w.name, status: "fail", detail: `${w.healthPath}: ${describeStatus(r)}` };
    } catch (err) {
        return { group: "services", name: w.name, status: "fail", detail: `dead: ${(err as Error).message}` };
    }
}

async function isolationChecks(config: StackConfig, targets: VerifyTargets, sshPrivateKey: string | undefined, deps: VerifyDeps, progress: (line: string) => void): Promise<Check[]> {
    const otherEnv = config.environment === "private" ? "public" : "private";
    let other: StackConfig;
    let adminSources: readonly string[];
    try {
        other = (deps.otherConfig ?? otherStackConfig)(otherEnv);
        adminSources = adminSourcesOf(config);
    } catch (err) {
        const why = err instanceof ConfigError ? err.problems.join("; ") : (err as Error).message;
        return [{ group: "isolation", name: "probes", status: "error", detail: `cannot read the ${otherEnv} environment's config to aim the probes: ${why}` }];
    }
    if (sshPrivateKey === undefined) {
        return [{ group: "isolation", name: "probes", status: "error", detail: `the stack has no ${NAMESPACE}:sshPrivateKey to SSH into its guests` }];
    }
    return runProbes(plannedProbes(config, other, targets.sshHostKeys, adminSources), sshPrivateKey, deps.runner, progress);
}

/** The other environment's config from its stack file: addresses and ports are not secret. */
function otherStackConfig(environment: StackConfig["environment"]): StackConfig {
    const file = readStackFile(stackFilePath(environment));
    const prefix = `${NAMESPACE}:`;
    const raw = Object.fromEntries(Object.entries(file.config).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    return environmentOnly(validateRawConfig(raw, undefined), "npm run verify");
}

if (require.main === module) {
    runMain(() => runVerify(process.argv.slice(2), { reader: pulumiReader(), runner: processRunner, io: PROCESS_IO }));
}
