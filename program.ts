import { loadConfig } from "./config/load";
import { Environment } from "./components/environment";

/**
 * The Pulumi program: validate config once, build one environment, return its outputs.
 * Bad config throws a ConfigError (a RunError: one line per problem, no stack trace)
 * before any resource is registered.
 */
export async function program(): Promise<Record<string, unknown>> {
    const { stack, secrets } = loadConfig();
    const environment = new Environment(stack.environment, { config: stack, secrets });
    return environment.summary;
}
