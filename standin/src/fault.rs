//! Fault injection: a canned answer (a status, a challenge page, a hang, an endless body)
//! for the requests that match, instead of the normal one. Tests build them; `api` takes the
//! first that matches each request.

/// A canned answer for requests that match, instead of the normal one.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Only this method (None: any).
    pub method: Option<String>,
    /// Only paths containing this.
    pub path_contains: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// How many requests it answers (None: all).
    pub remaining: Option<u32>,
    /// Accept the request and never answer.
    pub hang: bool,
    /// Only requests whose body contains this (a batch naming one record, say).
    pub body_contains: Option<String>,
    /// Instead of `body`, stream this many bytes (a hostile server's endless answer).
    pub stream_bytes: Option<u64>,
}

impl Fault {
    /// A fault answering every API request with this status and body.
    pub fn status(status: u16, body: &str) -> Fault {
        Fault {
            method: None,
            path_contains: "/client/v4/".to_string(),
            status,
            headers: Vec::new(),
            body: body.to_string(),
            remaining: None,
            hang: false,
            body_contains: None,
            stream_bytes: None,
        }
    }

    /// Cloudflare's challenge page: 403, `cf-mitigated: challenge`, HTML.
    pub fn challenge() -> Fault {
        Fault::status(403, "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>")
            .header("cf-mitigated", "challenge")
            .header("content-type", "text/html; charset=UTF-8")
    }

    /// A request that is accepted and never answered.
    pub fn hang() -> Fault {
        Fault {
            hang: true,
            ..Fault::status(200, "")
        }
    }

    /// Builder: only this method.
    pub fn method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_string());
        self
    }

    /// Builder: only paths containing this.
    pub fn path(mut self, fragment: &str) -> Fault {
        self.path_contains = fragment.to_string();
        self
    }

    /// Builder: a response header.
    pub fn header(mut self, name: &str, value: &str) -> Fault {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Builder: only requests whose body contains `fragment`.
    pub fn body_contains(mut self, fragment: &str) -> Fault {
        self.body_contains = Some(fragment.to_string());
        self
    }

    /// Builder: stream `bytes` bytes instead of the body (no Content-Length).
    pub fn stream(mut self, bytes: u64) -> Fault {
        self.stream_bytes = Some(bytes);
        self
    }

    /// Builder: answer only this many requests.
    pub fn times(mut self, count: u32) -> Fault {
        self.remaining = Some(count);
        self
    }
}
