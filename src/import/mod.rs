//! `flaredns import`: another updater's configuration (ddclient, inadyn, favonia's
//! cloudflare-ddns) → a flaredns config on stdout, so moving over is one command. Each reader
//! is a pure function from text to an `Imported` (`imported.rs`), which one writer
//! (`emit.rs`) turns into TOML; every setting that does not map becomes a `#` comment saying
//! why. This module reads the input (capped, through `files`) and, for favonia without a
//! file, this process's environment; it never reads or writes a flaredns config, and never
//! prints a token.

pub mod ddclient;
pub mod emit;
pub mod favonia;
pub mod imported;
pub mod inadyn;

use std::path::{Path, PathBuf};

pub use imported::Imported;

/// An input file larger than this is refused: real ones are a few kilobytes.
pub const MAX_INPUT_BYTES: u64 = 1024 * 1024;
/// A line longer than this is refused: no real setting needs it, and it is a sign of a
/// binary or generated file.
pub const MAX_LINE_CHARS: usize = 4096;

/// The tools whose configuration can be imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Ddclient,
    Inadyn,
    Favonia,
}

impl Tool {
    /// The input read when no file is given (favonia: the environment).
    pub fn default_path(self) -> Option<&'static Path> {
        match self {
            Tool::Ddclient => Some(Path::new("/etc/ddclient.conf")),
            Tool::Inadyn => Some(Path::new("/etc/inadyn.conf")),
            Tool::Favonia => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Tool::Ddclient => "ddclient",
            Tool::Inadyn => "inadyn",
            Tool::Favonia => "favonia/cloudflare-ddns",
        }
    }
}

/// What is wrong at a line of the input. `Display` is the sentence after "FILE:LINE: ".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("binary data (not UTF-8 text without NUL bytes); is this the right file?")]
    Binary,
    #[error("the line is longer than {MAX_LINE_CHARS} characters")]
    LineTooLong,
    #[error("the `{{` opened here is never closed")]
    UnclosedBrace,
    #[error("a `}}` here closes nothing")]
    UnexpectedClose,
    #[error("the quote opened here is never closed")]
    UnclosedQuote,
    #[error("the `/*` comment opened here is never closed")]
    UnclosedComment,
    #[error("{0}")]
    Syntax(String),
}

/// A problem and its line (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub problem: Problem,
}

impl ParseError {
    /// A problem at a line.
    pub fn at(line: usize, problem: Problem) -> ParseError {
        ParseError { line, problem }
    }
}

/// Why an import failed. Every variant is exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot import: {source}")]
    Read { source: crate::files::FileError },
    #[error("cannot import {}:{line}: {problem}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        problem: Problem,
    },
}

/// The result of an import: the config text (stdout) and what to tell the user (stderr).
#[derive(Debug)]
pub struct Output {
    pub config: String,
    pub messages: Vec<String>,
}

/// Reads the input and converts it. `file`: the input, else the tool's default (favonia: the
/// environment, read through `env_vars`).
pub fn run(
    tool: Tool,
    file: Option<&Path>,
    env_vars: &dyn Fn() -> Vec<(String, String)>,
) -> Result<Output, ImportError> {
    let path = file.or(tool.default_path());
    let (imported, origin, input) = match path {
        Some(path) => {
            let bytes =
                crate::files::read_bytes(path, MAX_INPUT_BYTES, crate::files::Links::Follow)
                    .map_err(|source| ImportError::Read { source })?;
            let parse_error = |error: ParseError| ImportError::Parse {
                path: path.to_path_buf(),
                line: error.line,
                problem: error.problem,
            };
            let text = check_text(&bytes).map_err(parse_error)?;
            let imported = match tool {
                Tool::Ddclient => ddclient::parse(text),
                Tool::Inadyn => inadyn::parse(text),
                Tool::Favonia => favonia::parse(text),
            }
            .map_err(parse_error)?;
            let shown = path.display().to_string();
            (imported, format!("{} {shown}", tool.name()), shown)
        }
        None => (
            favonia::from_env(&env_vars()),
            format!("{} (the environment)", tool.name()),
            "the environment".to_string(),
        ),
    };
    let mut messages = imported.token_hints(&input);
    if imported.records.is_empty() && imported.waf_lists.is_empty() {
        messages.push(format!("no Cloudflare record was found in {input}; add a [[records]] entry before running flaredns"));
    }
    Ok(Output {
        config: imported.to_toml(&origin),
        messages,
    })
}

/// The input as text: UTF-8, no NUL byte, no line longer than `MAX_LINE_CHARS`. The error
/// names the first line that fails.
pub fn check_text(bytes: &[u8]) -> Result<&str, ParseError> {
    let line_of = |offset: usize| bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
    let text = std::str::from_utf8(bytes)
        .map_err(|error| ParseError::at(line_of(error.valid_up_to()), Problem::Binary))?;
    if let Some(offset) = text.find('\0') {
        return Err(ParseError::at(line_of(offset), Problem::Binary));
    }
    for (index, line) in text.lines().enumerate() {
        if line.chars().count() > MAX_LINE_CHARS {
            return Err(ParseError::at(index + 1, Problem::LineTooLong));
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_checks_name_the_first_bad_line() {
        for (input, expected) in [
            (&b"a\nb\n"[..], Ok(())),
            (&b"a\n\xff\xfe\n"[..], Err((2, Problem::Binary))),
            (&b"a\nb\nc\0d"[..], Err((3, Problem::Binary))),
        ] {
            let got = check_text(input)
                .map(|_| ())
                .map_err(|error| (error.line, error.problem));
            assert_eq!(got, expected, "{input:?}");
        }
        let long = format!("ok\n{}\n", "x".repeat(MAX_LINE_CHARS + 1));
        assert_eq!(
            check_text(long.as_bytes()).map_err(|error| error.line),
            Err(2)
        );
    }
}
