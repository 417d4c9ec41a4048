import * as pulumi from "@pulumi/pulumi";
import { loadConfig, otherEnvironmentsOf } from "./config/load";
import { Environment } from "./components/environment";
import { Box } from "./components/host/box";
import { HostStackMissingError } from "./components/hostObjects";
import type { StackOutputs } from "./components/outputs";

/**
 * The Pulumi program: validate config once, then build the stack the config is for: the
 * box (`environment: host`) or one environment. Bad config throws a ConfigError (a
 * RunError: one line per problem, no stack trace) before any resource is registered.
 * Host stack: a GPU that is not where the config says fails the run with the preflight's
 * lines (PreflightError) before its mapping is written. Environment stack: host objects
 * that do not exist yet fail it with one line saying to run the host stack first.
 */
export async function program(): Promise<StackOutputs> {
    const loaded = loadConfig();
    if (loaded.kind === "host") {
        const box = new Box("host", { config: loaded, secrets: loaded.secrets });
        const preflight = (await Promise.all([...box.environments.values()].map((e) => e.gpu.preflight))).flat();
        if (preflight.length > 0) {
            throw new PreflightError(preflight);
        }
        return box.summary;
    }
    const { stack, secrets } = loaded;
    // The one wiring across environments (monitoring) reads the other environments' files,
    // validated as their own stacks validate them.
    const environment = new Environment(stack.environment, { config: stack, secrets, otherEnvironments: otherEnvironmentsOf(stack) });
    const missing = await environment.preflight;
    if (missing.length > 0) {
        throw new HostStackMissingError(stack.environment, missing);
    }
    return environment.summary;
}

/** The node disagrees with the GPU config: one line per problem, naming the config key. */
export class PreflightError extends pulumi.RunError {
    constructor(public readonly problems: readonly string[]) {
        super(`GPU preflight failed:\n${problems.join("\n")}`);
        this.name = "PreflightError";
    }
}
