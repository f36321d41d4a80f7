//! The man page and the completions are generated from the same clap definition as `--help`
//! (build.rs): every subcommand and flag that `--help` lists appears in each of them.

use std::collections::BTreeSet;
use std::process::Command;

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_flaredns"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run --help");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `--long` flags and subcommand names in a help text.
fn words(text: &str, subcommands: &mut BTreeSet<String>, flags: &mut BTreeSet<String>) {
    let mut in_commands = false;
    for line in text.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            match line.split_whitespace().next() {
                Some(word) if line.starts_with("  ") && word != "help" => {
                    subcommands.insert(word.to_string());
                }
                _ if line.trim().is_empty() => in_commands = false,
                _ => {}
            }
        }
        for word in line.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']') {
            if word.starts_with("--") && word.len() > 2 {
                flags.insert(word.trim_end_matches(['.', ':']).to_string());
            }
        }
    }
}

#[test]
fn man_page_and_completions_know_every_subcommand_and_flag() {
    let mut subcommands = BTreeSet::new();
    let mut flags = BTreeSet::new();
    words(&help(&[]), &mut subcommands, &mut flags);
    for subcommand in subcommands.clone() {
        words(&help(&[&subcommand]), &mut BTreeSet::new(), &mut flags);
    }
    assert!(
        subcommands.contains("doctor") && subcommands.contains("status"),
        "{subcommands:?}"
    );
    assert!(
        flags.contains("--dry-run") && flags.contains("--json"),
        "{flags:?}"
    );
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/assets");
    let man = std::fs::read_to_string(assets.join("flaredns.1"))
        .expect("build.rs wrote the man page")
        .replace("\\-", "-");
    for section in [
        "CONFIGURATION",
        "FILES",
        "ENVIRONMENT",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(
            man.contains(&format!(".SH {section}")),
            "no {section} section"
        );
    }
    let completions: Vec<(String, String)> = ["flaredns.bash", "_flaredns", "flaredns.fish"]
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(assets.join("completions").join(file))
                .expect("build.rs wrote the completions");
            (file.to_string(), text)
        })
        .collect();
    for word in subcommands.iter().chain(flags.iter()) {
        if word == "--help" || word == "--version" {
            continue;
        }
        assert!(man.contains(word.as_str()), "the man page lacks {word}");
        for (file, text) in &completions {
            let bare = word.trim_start_matches('-');
            assert!(text.contains(bare), "{file} lacks {word}");
        }
    }
}

#[test]
fn completions_subcommand_prints_the_same_scripts() {
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/assets/completions");
    for (shell, file) in [
        ("bash", "flaredns.bash"),
        ("zsh", "_flaredns"),
        ("fish", "flaredns.fish"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_flaredns"))
            .args(["completions", shell])
            .output()
            .expect("run completions");
        assert!(output.status.success());
        let printed = String::from_utf8_lossy(&output.stdout);
        let built = std::fs::read_to_string(assets.join(file)).expect("built");
        assert_eq!(printed, built, "{shell}");
    }
}
