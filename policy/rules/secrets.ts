/**
 * Secret-bearing inputs (passwords, tokens, API keys, private keys) must be secrets, so
 * they are encrypted in state and masked in every output and plan.
 */
import { SECRET_MASK, UNKNOWN_MASK } from "../../graph";
import { isRecord, Rule } from "./model";

const SECRET_KEY = /^(password|passwd|token|apiToken|apiKey|secret|clientSecret|privateKey|privateKeyPassword|secretKey|accessKey|authTicket)$/i;

/** Whether a property name says its value is a secret (passwords, tokens, keys). */
export function isSecretBearingKey(key: string): boolean {
    return SECRET_KEY.test(key);
}

/** Paths of secret-bearing values that are not secret; `isSecret` says what a secret looks like where the rule runs. */
function plainSecretPaths(props: Record<string, unknown>, isSecret: (value: unknown) => boolean): string[] {
    const paths: string[] = [];
    const visit = (value: unknown, path: string, key: string | undefined) => {
        if (isSecret(value) || value === undefined || value === null || value === "") {
            return;
        }
        if (key !== undefined && SECRET_KEY.test(key) && (typeof value === "string" || typeof value === "number")) {
            paths.push(path);
        } else if (Array.isArray(value)) {
            value.forEach((v, i) => visit(v, `${path}[${i}]`, key));
        } else if (isRecord(value)) {
            Object.entries(value).forEach(([k, v]) => visit(v, path ? `${path}.${k}` : k, k));
        }
    };
    visit(props, "", undefined);
    return paths;
}

/**
 * A copy of props with every plain secret-bearing value replaced by `wrap(value)`: the
 * CrossGuard pack uses it to remediate (mark as secret) what it cannot see is secret.
 */
export function wrapPlainSecrets(props: Record<string, unknown>, isSecret: (value: unknown) => boolean, wrap: (value: unknown) => unknown): { props: Record<string, unknown>; wrapped: number } {
    let wrapped = 0;
    const visit = (value: unknown, key: string | undefined): unknown => {
        if (isSecret(value) || value === undefined || value === null || value === "") {
            return value;
        }
        if (key !== undefined && SECRET_KEY.test(key) && (typeof value === "string" || typeof value === "number")) {
            wrapped += 1;
            return wrap(value);
        }
        if (Array.isArray(value)) {
            return value.map((v) => visit(v, key));
        }
        if (isRecord(value)) {
            return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visit(v, k)]));
        }
        return value;
    };
    const out = visit(props, undefined);
    return { props: isRecord(out) ? out : props, wrapped };
}

/** The offline graph shows secrets and unknowns masked. */
const maskedOffline = (value: unknown) => value === SECRET_MASK || value === UNKNOWN_MASK;

export const secretsAreSecret: Rule = {
    name: "secrets-are-secret",
    description: "Passwords, tokens, API keys and private keys reach resources only as secrets.",
    level: "mandatory",
    config: {},
    check(stack) {
        return stack.resources.flatMap((r) => plainSecretPaths(r.props, maskedOffline).map((path) => ({
            urn: r.urn,
            message: `${r.name}.${path} is a secret-bearing input given in plain text; take it from pulumi config --secret or @pulumi/random, or wrap it in pulumi.secret()`,
        })));
    },
};
