/** Every rule of the pack, one domain per file. */
import { unprivilegedContainers } from "./containers";
import { containerHygiene, firewallMatchesWorkloads } from "./containers-docker";
import { backupCoverage, statefulProtected } from "./data";
import { gpuMappingExclusive, gpuVmSettings, modelFitsVram } from "./gpu";
import { clusterFirewallEnforced, hostObjectsInHostStack } from "./host";
import { imagesPinned } from "./images";
import { environmentIsolation } from "./isolation";
import { configOf, Finding, JsonSchema, Level, Rule, StackView } from "./model";
import { publicDefaultDeny } from "./network";
import { secretsAreSecret } from "./secrets";

/** A rule with its config bound at run time: what both runners iterate over. */
export interface PackRule {
    readonly name: string;
    readonly description: string;
    readonly level: Level;
    readonly configSchema: Readonly<Record<string, JsonSchema>>;
    run(stack: StackView, given?: Record<string, unknown>): Finding[];
}

function bind<C extends object>(rule: Rule<C>): PackRule {
    return {
        name: rule.name,
        description: rule.description,
        level: rule.level,
        configSchema: rule.config,
        run: (stack, given) => rule.check(stack, configOf(rule, given)),
    };
}

export const RULES: readonly PackRule[] = [
    bind(gpuMappingExclusive),
    bind(gpuVmSettings),
    bind(environmentIsolation),
    bind(statefulProtected),
    bind(secretsAreSecret),
    bind(imagesPinned),
    bind(publicDefaultDeny),
    bind(backupCoverage),
    bind(unprivilegedContainers),
    bind(modelFitsVram),
    bind(clusterFirewallEnforced),
    bind(hostObjectsInHostStack),
    bind(containerHygiene),
    bind(firewallMatchesWorkloads),
];
