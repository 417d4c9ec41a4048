/**
 * The GitHub Actions runner of the CI/CD container. Flags and behaviour from actions/runner
 * (src/Runner.Listener/Runner.cs usage text: `config.sh --unattended --url --token --name
 * --labels --work --replace`; CommandSettings.cs reads any flag from an
 * ACTIONS_RUNNER_INPUT_<NAME> variable; its systemd unit is
 * src/Misc/layoutbin/actions.runner.service.template).
 */

/** Labels every runner gets unless --no-default-labels: self-hosted, the OS, the architecture. */
const RUNNER_DEFAULT_LABELS = ["self-hosted", "Linux", "X64"] as const;

export const RUNNER_UNIT = "/etc/systemd/system/actions-runner.service";

/** The systemd unit, as svc.sh would write it from the runner's template. */
export function runnerUnit(runnerRoot: string): string {
    return [
        "[Unit]",
        "Description=GitHub Actions runner (ai-dualstack)",
        "After=network-online.target docker.service",
        "Wants=network-online.target",
        "",
        "[Service]",
        `ExecStart=${runnerRoot}/bin/runsvc.sh`,
        "User=runner",
        `WorkingDirectory=${runnerRoot}`,
        "KillMode=process",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=5min",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}

/** Whether a job's runs-on labels are all served by a runner with these labels (GitHub matches case-insensitively). */
export function servesLabels(runnerLabels: readonly string[], runsOn: readonly string[]): boolean {
    const have = new Set([...RUNNER_DEFAULT_LABELS, ...runnerLabels].map((l) => l.toLowerCase()));
    return runsOn.every((l) => have.has(l.toLowerCase()));
}
