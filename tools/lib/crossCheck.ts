/**
 * The checks across both environments, run from one environment's file: the host stack
 * file it names, and the other environment's file that host file lists. `npm run plan`
 * and `npm run policy` use it so a clash shows up whichever stack is planned, with the
 * file given by --config standing in for that environment's own file.
 */
import * as path from "path";
import { boxFacts, ConfigError, EnvironmentStack, readEnvironmentStack, readHostStack } from "../../config/load";
import { crossEnvironmentProblems } from "../../config/crossEnvironment";
import type { StackConfig } from "../../config/schema";
import { ENVIRONMENTS } from "../../config/schema";

export function crossChecksFor(config: StackConfig, file: string): string[] {
    const host = readHostStack(config.hostStack);
    if (host.config === undefined) {
        return host.problems;
    }
    const box = boxFacts(host.config);
    const environments: EnvironmentStack[] = [{ environment: config.environment, file: path.basename(file), config }];
    for (const other of ENVIRONMENTS.filter((e) => e !== config.environment)) {
        const otherFile = host.config.environments[other];
        try {
            environments.push({ environment: other, file: otherFile, config: readEnvironmentStack(otherFile, box, undefined, other) });
        } catch (err) {
            if (err instanceof ConfigError) {
                return [...err.problems];
            }
            throw err;
        }
    }
    return crossEnvironmentProblems({ file: config.hostStack, config: host.config }, environments);
}
