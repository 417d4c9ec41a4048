import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./config/load";
import { Environment } from "./components/environment";

/**
 * The Pulumi program: validate config once, build one environment, return its outputs.
 * Bad config throws a ConfigError (a RunError: one line per problem, no stack trace)
 * before any resource is registered; a GPU that is not where the config says fails the run
 * with the preflight's lines (PreflightError) before its mapping is written.
 */
export async function program(): Promise<Record<string, unknown>> {
    const { stack, secrets } = loadConfig();
    const environment = new Environment(stack.environment, { config: stack, secrets });
    const preflight = await environment.gpu.preflight;
    if (preflight.length > 0) {
        throw new PreflightError(preflight);
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
