/**
 * The ai-dualstack policy pack for the Pulumi CLI:
 *
 *   pulumi preview --stack public --policy-pack policy --policy-pack-config policy/config/public.json
 *
 * The policies are built in pack.ts from the rules in rules/; `npm run policy` runs the
 * same rules offline.
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./pack";

new PolicyPack("ai-dualstack", {
    description: "Keeps a wrong change out of the ai-dualstack homelab: GPU passthrough, isolation, data safety, secrets, images, firewalls, backups.",
    policies: POLICIES,
});
