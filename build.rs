//! Generates the man page and the shell completions from the same clap definition as
//! `--help` (src/cli.rs, included here), into target/assets/ where `cargo deb` picks them up.
//! The generators are build dependencies only: the release binary does not carry them
//! (`flaredns completions` prints the scripts embedded from OUT_DIR).

use std::io::Write;
use std::path::PathBuf;

#[allow(dead_code)]
mod cli {
    include!("src/cli.rs");
}

fn main() {
    println!("cargo:rerun-if-changed=src/cli.rs");
    println!("cargo:rerun-if-changed=config.example.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=systemd");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let assets = manifest.join("target").join("assets");
    if let Err(error) = generate(&assets, &manifest) {
        // A build must not fail for want of documentation; the packaging check will.
        println!("cargo:warning=cannot generate the man page and completions: {error}");
    }
}

fn generate(assets: &std::path::Path, manifest: &std::path::Path) -> std::io::Result<()> {
    use clap::CommandFactory;
    std::fs::create_dir_all(assets.join("completions"))?;
    let command = cli::Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    page.write_all(subcommand_sections(&command).as_bytes())?;
    let example = std::fs::read_to_string(manifest.join("config.example.toml"))?;
    page.write_all(extra_sections(&example).as_bytes())?;
    std::fs::write(assets.join("flaredns.1"), page)?;
    // The units as the package installs them: the binary is /usr/bin/flaredns there, not the
    // /usr/local/bin/flaredns of `cargo install --root /usr/local`.
    std::fs::create_dir_all(assets.join("systemd"))?;
    for unit in [
        "flaredns.service",
        "flaredns-once.service",
        "flaredns-once.timer",
    ] {
        let text = std::fs::read_to_string(manifest.join("systemd").join(unit))?;
        std::fs::write(
            assets.join("systemd").join(unit),
            text.replace("/usr/local/bin/flaredns", "/usr/bin/flaredns"),
        )?;
    }
    for (shell, file) in [
        (clap_complete::Shell::Bash, "flaredns.bash"),
        (clap_complete::Shell::Zsh, "_flaredns"),
        (clap_complete::Shell::Fish, "flaredns.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut command.clone(), "flaredns", &mut out);
        std::fs::write(assets.join("completions").join(file), &out)?;
        // The binary embeds them too (`flaredns completions`), so it carries no generator.
        let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
        std::fs::write(out_dir.join(file), &out)?;
    }
    Ok(())
}

/// One section per subcommand with its arguments, so the man page holds every flag `--help`
/// shows, the subcommands' included.
fn subcommand_sections(command: &clap::Command) -> String {
    let escape = |text: &str| text.replace('\\', "\\e").replace('-', "\\-");
    let mut out = String::new();
    for sub in command.get_subcommands() {
        let name = sub.get_name();
        if name == "help" {
            continue;
        }
        out.push_str(&format!(".SH \"COMMAND: {}\"\n", name.to_uppercase()));
        out.push_str(&format!(".B flaredns {}\n", escape(name)));
        if let Some(about) = sub.get_about() {
            out.push_str(&format!(".PP\n{}\n", escape(&about.to_string())));
        }
        for arg in sub.get_arguments() {
            let label = match (arg.get_long(), arg.get_value_names()) {
                (Some(long), _) => format!("\\fB\\-\\-{}\\fR", escape(long)),
                (None, Some(names)) => format!(
                    "\\fI{}\\fR",
                    names
                        .iter()
                        .map(|name| name.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                (None, None) => format!("\\fI{}\\fR", arg.get_id()),
            };
            out.push_str(&format!(".TP\n{label}\n"));
            if let Some(help) = arg.get_help() {
                out.push_str(&escape(&help.to_string()));
            }
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|value| value.get_name().to_string())
                .collect();
            if !values.is_empty() && arg.get_action().takes_values() {
                out.push_str(&format!(" [possible values: {}]", values.join(", ")));
            }
            out.push('\n');
        }
    }
    out
}

/// Text as a roff literal block: backslashes doubled, lines starting with `.` or `'` guarded.
fn literal(text: &str) -> String {
    let mut out = String::from(".PP\n.nf\n");
    for line in text.lines() {
        let line = line.replace('\\', "\\e");
        if line.starts_with('.') || line.starts_with('\'') {
            out.push_str("\\&");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(".fi\n");
    out
}

fn extra_sections(example: &str) -> String {
    let mut out = String::new();
    out.push_str(".SH CONFIGURATION\nThe configuration is a TOML file, by default \\fI/etc/flaredns/config.toml\\fR. Unknown keys are an error (exit 2) that names the key, the file and the line. Every key, with its default, as in the shipped example:\n");
    out.push_str(&literal(example));
    out.push_str(".SH FILES\n.TP\n\\fI/etc/flaredns/config.toml\\fR\nThe configuration (a conffile of the Debian package).\n.TP\n\\fI/etc/flaredns/token\\fR\nThe Cloudflare API token, mode 0600 (read by the service as the systemd credential \\fBcloudflare_api_token\\fR).\n.TP\n\\fI/var/lib/flaredns\\fR\nThe state directory under systemd (\\fBStateDirectory=flaredns\\fR): zones.json, records.json, status.json, rate-limited-until, lock.\n.TP\n\\fI/usr/lib/systemd/system/flaredns.service\\fR, \\fIflaredns-once.service\\fR, \\fIflaredns-once.timer\\fR\nThe daemon, and the one-shot run with its timer.\n");
    out.push_str(".SH ENVIRONMENT\n.TP\n\\fBFLAREDNS_CONFIG\\fR\nThe config file when \\fB\\-\\-config\\fR is not given.\n.TP\n\\fBCLOUDFLARE_API_TOKEN\\fR\nThe API token; wins over the credential, \\fBapi_token_file\\fR and \\fBapi_token\\fR.\n.TP\n\\fBCLOUDFLARE_API_TOKEN_FILE\\fR\nA file holding the token (Docker secrets): \\fB[cloudflare] api_token_file\\fR.\n.TP\n\\fBFLAREDNS_\\fR\\fISECTION\\fR\\fB_\\fR\\fIKEY\\fR\nAny key of [cloudflare], [detect], [check], [daemon], [notify] and [metrics], in upper case (\\fBFLAREDNS_DAEMON_INTERVAL=10m\\fR); overrides the file. Lists are comma\\-separated, \\fBnone\\fR is the empty list.\n.TP\n\\fBFLAREDNS_RECORDS\\fR\nRecords with default settings, comma\\-separated. With no config file named and none at the default path, the environment is the whole configuration.\n.TP\n\\fBCREDENTIALS_DIRECTORY\\fR\nSet by systemd; the token is read from its \\fBcloudflare_api_token\\fR.\n.TP\n\\fBSTATE_DIRECTORY\\fR\nSet by systemd; the state directory unless \\fB[daemon] state_dir\\fR is set (else \\fI~/.local/state/flaredns\\fR).\n.TP\n\\fBRUST_LOG\\fR\nA level or \\fItarget=level\\fR directives for flaredns's own log lines; other crates stay at warn.\n.TP\n\\fBNOTIFY_SOCKET\\fR, \\fBWATCHDOG_USEC\\fR, \\fBJOURNAL_STREAM\\fR\nSet by systemd: readiness, watchdog, and log lines without timestamps.\n");
    out.push_str(".SH EXIT STATUS\n.TP\n\\fB0\\fR\nEvery managed record (and WAF list) is in sync, or with \\fB\\-\\-dry\\-run\\fR the plan was printed; for \\fBdoctor\\fR no problem; for \\fBstatus\\fR the last cycle succeeded.\n.TP\n\\fB1\\fR\nA record could not be brought in sync, the address could not be detected, doctor found a problem, or another run holds the state directory.\n.TP\n\\fB2\\fR\nUsage or configuration error: bad TOML, an unknown key, a missing or malformed token, an invalid name.\n");
    out.push_str(".SH EXAMPLES\n.TP\n\\fBflaredns \\-\\-once \\-\\-dry\\-run\\fR\nPrint what would change, and change nothing.\n.TP\n\\fBflaredns doctor\\fR\nCheck the config, the token, detection and every record, and say what to fix.\n.TP\n\\fBsystemctl enable \\-\\-now flaredns\\fR\nRun the daemon (after putting the token in /etc/flaredns/token and a record in the config).\n.TP\n\\fBflaredns status\\fR\nShow what the last cycle did, without a request.\n.TP\n\\fBflaredns completions bash > /etc/bash_completion.d/flaredns\\fR\nInstall bash completion by hand (the Debian package ships them).\n");
    out.push_str(".SH SEE ALSO\n\\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1), \\fBsystemd.exec\\fR(5), \\fBsystemd.timer\\fR(5)\n");
    out
}
