//! The small pieces of reading a shoutrrr-style URL: query options read as shoutrrr reads
//! them (case-insensitive names), percent-decoding of user, password and opaque hosts, a real
//! host checked as an https host, and endpoints built segment by segment so that a token
//! cannot change the path it is put in.

use url::Url;

/// `base` with `segments` appended, each percent-encoded as one path segment.
pub(super) fn endpoint(base: &str, segments: &[&str]) -> Option<Url> {
    let mut url = Url::parse(base).ok()?;
    if !segments.is_empty() {
        url.path_segments_mut().ok()?.extend(segments);
    }
    Some(url)
}

/// The host and port of a URL whose host is a real one (ntfy, gotify, generic).
pub(super) fn host_port(url: &Url) -> Option<String> {
    let host = url.host_str().filter(|host| !host.is_empty())?;
    // Checked as an https host, so a typo is a config error rather than a failed request.
    let probe = Url::parse(&format!("https://{host}")).ok()?;
    let host = probe.host_str()?.to_string();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// True when the path adds nothing (`discord://T@ID` and `discord://T@ID/`).
pub(super) fn bare_path(url: &Url) -> bool {
    url.path().is_empty() || url.path() == "/"
}

/// A query option by name (case-insensitive, as shoutrrr reads them).
pub(super) fn option(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// Shoutrrr's truthy option values.
pub(super) fn is_yes(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "yes" | "true" | "1")
}

/// Shoutrrr's falsy option values.
pub(super) fn is_no(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "no" | "false" | "0")
}

/// Percent-decoding of a URL part (user, password, opaque host, segment).
pub(super) fn decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[index], hex(index + 1), hex(index + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                index += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A non-reversible tag of the whole URL text.
pub(super) fn fingerprint(text: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// A JSON object from fields whose values are already JSON (`text` for strings). Written by
/// hand: a few fixed fields do not need a `Value` tree (the binary has a size budget).
pub(super) fn object(fields: &[(&str, String)]) -> Vec<u8> {
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}:{value}", text(name)))
        .collect();
    format!("{{{}}}", body.join(",")).into_bytes()
}

/// A string as a JSON string literal.
pub(super) fn text(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_string())
}

/// Standard base64 with padding, for a basic-auth header (reqwest's `basic_auth` would link a
/// whole base64 engine for these few bytes).
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * index)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_json_by_hand() {
        assert_eq!(base64(b"nuser:npassSECRET3"), "bnVzZXI6bnBhc3NTRUNSRVQz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
        let body = object(&[("text", text("a \"quote\" →\n")), ("n", 7.to_string())]);
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value["text"], "a \"quote\" →\n");
        assert_eq!(value["n"], 7);
    }
}
