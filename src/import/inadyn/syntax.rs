//! inadyn.conf's syntax (libConfuse as inadyn uses it): tokens with their lines, then
//! global settings and `provider`/`custom` sections. An unclosed brace, quote or comment,
//! a stray `}` or a setting without `=` is an error at its line. No mapping to flaredns here.

use super::super::emit::shown;
use super::super::{ParseError, Problem};

/// One lexical token and its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Token {
    Word(String),
    Text(String),
    Equals,
    Open,
    Close,
    Comma,
    LeftParen,
    RightParen,
}

/// A setting's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Value {
    One(String),
    List(Vec<String>),
    /// `include("file")` and other function calls.
    Call(Vec<String>),
}

/// `key = value` with its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub key: String,
    pub value: Value,
    pub line: usize,
}

/// `provider NAME { … }` or `custom NAME { … }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Block {
    pub kind: String,
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

/// The file: global settings and sections, in order.
#[derive(Debug, Default)]
pub(super) struct File {
    pub globals: Vec<Entry>,
    pub blocks: Vec<Block>,
}

/// The characters being read, one at a time.
type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// The file's tokens, each with the line it starts on; comments (`#`, `//`, `/* */`) dropped.
pub(super) fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => skip_to_line_end(&mut chars),
            '/' if chars.peek() == Some(&'/') => skip_to_line_end(&mut chars),
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                skip_block_comment(&mut chars, &mut line)?;
            }
            '"' | '\'' => {
                let start = line;
                let value = quoted(&mut chars, c, &mut line)?;
                tokens.push((Token::Text(value), start));
            }
            '=' => tokens.push((Token::Equals, line)),
            '{' => tokens.push((Token::Open, line)),
            '}' => tokens.push((Token::Close, line)),
            ',' => tokens.push((Token::Comma, line)),
            '(' => tokens.push((Token::LeftParen, line)),
            ')' => tokens.push((Token::RightParen, line)),
            first => {
                let word = word(first, &mut chars, &mut line);
                tokens.push((Token::Word(word), line));
            }
        }
    }
    Ok(tokens)
}

/// A `#` or `//` comment: everything up to the end of the line.
fn skip_to_line_end(chars: &mut Chars<'_>) {
    while chars.peek().is_some_and(|c| *c != '\n') {
        chars.next();
    }
}

/// A `/* … */` comment, its `/*` read; unclosed, an error at the line it started on.
fn skip_block_comment(chars: &mut Chars<'_>, line: &mut usize) -> Result<(), ParseError> {
    let start = *line;
    let mut previous = ' ';
    loop {
        match chars.next() {
            None => return Err(ParseError::at(start, Problem::UnclosedComment)),
            Some('/') if previous == '*' => return Ok(()),
            Some(c) => {
                if c == '\n' {
                    *line += 1;
                }
                previous = c;
            }
        }
    }
}

/// A quoted string after its opening `quote`: `"…"` knows `\n`, `\t` and escapes, `'…'` is
/// literal. Unclosed, an error at the line it started on.
fn quoted(chars: &mut Chars<'_>, quote: char, line: &mut usize) -> Result<String, ParseError> {
    let start = *line;
    let mut value = String::new();
    loop {
        match chars.next() {
            None => return Err(ParseError::at(start, Problem::UnclosedQuote)),
            Some(q) if q == quote => return Ok(value),
            Some('\\') if quote == '"' => match chars.next() {
                None => return Err(ParseError::at(start, Problem::UnclosedQuote)),
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some(other) => {
                    if other == '\n' {
                        *line += 1;
                    }
                    value.push(other);
                }
            },
            Some(other) => {
                if other == '\n' {
                    *line += 1;
                }
                value.push(other);
            }
        }
    }
}

/// A bare word from its first character up to a space or one of `={},()#"'`; a backslash
/// escapes the next character, and before a newline joins the lines.
fn word(first: char, chars: &mut Chars<'_>, line: &mut usize) -> String {
    let mut word = String::new();
    let mut next = Some(first);
    while let Some(c) = next {
        if c == '\\' {
            match chars.next() {
                Some('\n') => *line += 1,
                Some(escaped) => word.push(escaped),
                None => {}
            }
        } else {
            word.push(c);
        }
        let ends = |c: &char| c.is_whitespace() || "={},()#\"'".contains(*c);
        next = match chars.peek() {
            Some(c) if !ends(c) => chars.next(),
            _ => None,
        };
    }
    word
}

/// Tokens → settings and sections.
pub(super) fn structure(tokens: &[(Token, usize)]) -> Result<File, ParseError> {
    let mut file = File::default();
    let mut position = 0;
    while position < tokens.len() {
        let (token, line) = &tokens[position];
        let Token::Word(key) = token else {
            return Err(unexpected(token, *line));
        };
        position += 1;
        match tokens.get(position) {
            Some((Token::Open, open_line)) => {
                let (entries, next) = section_body(tokens, position + 1, *open_line)?;
                file.blocks.push(Block {
                    kind: key.clone(),
                    name: String::new(),
                    line: *line,
                    entries,
                });
                position = next;
            }
            Some((Token::Word(name) | Token::Text(name), _))
                if matches!(tokens.get(position + 1), Some((Token::Open, _))) =>
            {
                let open_line = tokens[position + 1].1;
                let (entries, next) = section_body(tokens, position + 2, open_line)?;
                file.blocks.push(Block {
                    kind: key.clone(),
                    name: name.clone(),
                    line: *line,
                    entries,
                });
                position = next;
            }
            _ => {
                let (entry, next) = setting(tokens, position - 1)?;
                file.globals.push(entry);
                position = next;
            }
        }
    }
    Ok(file)
}

/// The entries of a section up to its `}`; returns them and the position after the `}`.
fn section_body(
    tokens: &[(Token, usize)],
    mut position: usize,
    open_line: usize,
) -> Result<(Vec<Entry>, usize), ParseError> {
    let mut entries = Vec::new();
    loop {
        match tokens.get(position) {
            None => return Err(ParseError::at(open_line, Problem::UnclosedBrace)),
            Some((Token::Close, _)) => return Ok((entries, position + 1)),
            Some((Token::Word(_), _)) => {
                if let Some((Token::Open, line)) = tokens.get(position + 1) {
                    return Err(ParseError::at(*line, Problem::Syntax("a section inside a section; inadyn's provider and custom sections do not nest".to_string())));
                }
                let (entry, next) = setting(tokens, position)?;
                entries.push(entry);
                position = next;
            }
            Some((token, line)) => return Err(unexpected(token, *line)),
        }
    }
}

/// `key = value`, `key = { a, b }` or `key(args)` at `position`.
fn setting(tokens: &[(Token, usize)], position: usize) -> Result<(Entry, usize), ParseError> {
    let (key, line) = match tokens.get(position) {
        Some((Token::Word(key), line)) => (key.clone(), *line),
        Some((token, line)) => return Err(unexpected(token, *line)),
        None => {
            return Err(ParseError::at(
                0,
                Problem::Syntax("unexpected end of file".to_string()),
            ))
        }
    };
    let value_of = |token: Option<&(Token, usize)>| match token {
        Some((Token::Word(text) | Token::Text(text), _)) => Some(text.clone()),
        _ => None,
    };
    match tokens.get(position + 1) {
        Some((Token::Equals, _)) => match tokens.get(position + 2) {
            Some((Token::Open, open_line)) => {
                let (items, next) = items(tokens, position + 3, *open_line, &Token::Close)?;
                Ok((
                    Entry {
                        key,
                        value: Value::List(items),
                        line,
                    },
                    next,
                ))
            }
            token => match value_of(token) {
                Some(value) => Ok((
                    Entry {
                        key,
                        value: Value::One(value),
                        line,
                    },
                    position + 3,
                )),
                None => Err(ParseError::at(
                    line,
                    Problem::Syntax(format!("`{}` has no value after `=`", shown(&key))),
                )),
            },
        },
        Some((Token::LeftParen, _)) => {
            let (items, next) = items(tokens, position + 2, line, &Token::RightParen)?;
            Ok((
                Entry {
                    key,
                    value: Value::Call(items),
                    line,
                },
                next,
            ))
        }
        _ => Err(ParseError::at(
            line,
            Problem::Syntax(format!("`{}` is not followed by `=`", shown(&key))),
        )),
    }
}

/// Comma-separated values up to `close`.
fn items(
    tokens: &[(Token, usize)],
    mut position: usize,
    open_line: usize,
    close: &Token,
) -> Result<(Vec<String>, usize), ParseError> {
    let mut items = Vec::new();
    loop {
        match tokens.get(position) {
            None => {
                let problem = if *close == Token::Close {
                    Problem::UnclosedBrace
                } else {
                    Problem::Syntax("the `(` opened here is never closed".to_string())
                };
                return Err(ParseError::at(open_line, problem));
            }
            Some((token, _)) if token == close => return Ok((items, position + 1)),
            Some((Token::Comma, _)) => {}
            Some((Token::Word(text) | Token::Text(text), _)) => items.push(text.clone()),
            Some((token, line)) => return Err(unexpected(token, *line)),
        }
        position += 1;
    }
}

fn unexpected(token: &Token, line: usize) -> ParseError {
    match token {
        Token::Close => ParseError::at(line, Problem::UnexpectedClose),
        Token::Word(word) | Token::Text(word) => ParseError::at(
            line,
            Problem::Syntax(format!(
                "`{}` is not a setting (expected `name = value`)",
                shown(word)
            )),
        ),
        _ => ParseError::at(
            line,
            Problem::Syntax("expected a setting name here".to_string()),
        ),
    }
}
