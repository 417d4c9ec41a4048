/**
 * Policy settings per environment: the pack's defaults (isolation identities from the
 * stack files), overridden by policy/config/<environment>.json, the same file the real CLI
 * takes as --policy-pack-config.
 */
import * as fs from "fs";
import * as path from "path";
import { stackBackupJobs, stackIdentities } from "./identities";
import type { PackRule } from "./rules";
import { isRecord, Level } from "./rules/model";

const CONFIG_DIR = path.join(__dirname, "config");

/** Config a rule gets unless the user says otherwise. */
export function packDefaults(): Record<string, Record<string, unknown>> {
    return {
        "environment-isolation": { environments: stackIdentities() },
        "backup-coverage": { jobs: stackBackupJobs() },
    };
}

export interface RuleSetting {
    readonly level: Level;
    readonly given: Record<string, unknown>;
}

/** CrossGuard's format: `"rule": "advisory"` or `"rule": { "enforcementLevel": "...", ...config }`. */
export function settingsFor(rules: readonly PackRule[], packConfig: unknown, defaults = packDefaults()): Map<string, RuleSetting> {
    const given = isRecord(packConfig) ? packConfig : {};
    return new Map(rules.map((rule) => {
        const entry = given[rule.name];
        const base = defaults[rule.name] ?? {};
        if (typeof entry === "string") {
            return [rule.name, { level: parseLevel(entry, rule.name), given: base }];
        }
        if (isRecord(entry)) {
            const { enforcementLevel, ...rest } = entry;
            return [rule.name, { level: enforcementLevel === undefined ? rule.level : parseLevel(enforcementLevel, rule.name), given: { ...base, ...rest } }];
        }
        return [rule.name, { level: rule.level, given: base }];
    }));
}

export function readPackConfig(environment: string | undefined): unknown {
    const file = path.join(CONFIG_DIR, `${environment ?? "none"}.json`);
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
}

function parseLevel(value: unknown, rule: string): Level {
    if (value === "mandatory" || value === "advisory" || value === "disabled") {
        return value;
    }
    throw new Error(`policy config for ${rule}: enforcementLevel must be mandatory, advisory or disabled, got ${JSON.stringify(value)}`);
}
