//! A guard in front of tower-lsp-server's reader.
//!
//! Its codec stops reading for good at the first frame it cannot decode (a
//! body that is not JSON, JSON that is not a JSON-RPC message, a header
//! without `Content-Length`): one bad message from a client would leave the
//! server deaf and, once the client gives up, gone. This reader re-frames the
//! input and replaces each such frame with a request the server answers as
//! the protocol says: `ParseError` for a body that is not JSON,
//! `InvalidRequest` (with the message's id, when it has one) for one that is
//! no JSON-RPC message. Valid frames pass through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde_json::{Value, json};
use tokio::io::{AsyncRead, ReadBuf};
use tower_lsp_server::jsonrpc;

/// The method the replacement requests call.
pub const INVALID_MESSAGE: &str = "flowc/invalidMessage";

/// An `AsyncRead` that re-frames the client's input, replacing each frame
/// that is no JSON-RPC message with an [`INVALID_MESSAGE`] request.
pub struct Guard<R> {
    inner: R,
    input: Vec<u8>,
    output: Vec<u8>,
    /// How much of `output` was already handed out.
    taken: usize,
    eof: bool,
}

impl<R> Guard<R> {
    /// Guards the reader of the client's input.
    pub fn new(inner: R) -> Self {
        Guard { inner, input: Vec::new(), output: Vec::new(), taken: 0, eof: false }
    }

    /// Moves every complete frame from `input` to `output`.
    fn frame(&mut self) {
        loop {
            let Some(end) = find(&self.input, b"\r\n\r\n") else {
                // No header end in sight: bytes that cannot start a frame
                // are dropped up to the next `Content-Length`.
                if let Some(at) = find(&self.input, b"Content-Length").filter(|at| *at > 0) {
                    self.input.drain(..at);
                    continue;
                }
                if self.input.len() > 1 << 16 && find(&self.input, b"Content-Length").is_none() {
                    self.input.clear();
                }
                return;
            };
            // Garbage before a header: skip to where the header starts.
            if let Some(at) = find(&self.input[..end], b"Content-Length").filter(|at| *at > 0) {
                self.input.drain(..at);
                continue;
            }
            let header = String::from_utf8_lossy(&self.input[..end]).into_owned();
            let length = header.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
            });
            let Some(length) = length else {
                self.input.drain(..end + 4);
                self.emit(&invalid(Value::Null, jsonrpc::ErrorCode::ParseError, "a message header without a valid Content-Length"));
                continue;
            };
            let start = end + 4;
            if self.input.len() < start + length {
                return;
            }
            let body: Vec<u8> = self.input.drain(..start + length).skip(start).collect();
            let replacement = check(&body);
            match replacement {
                None => self.emit(&body),
                Some(r) => self.emit(&r),
            }
        }
    }

    fn emit(&mut self, body: &[u8]) {
        if self.taken == self.output.len() {
            self.output.clear();
            self.taken = 0;
        }
        self.output.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.output.extend_from_slice(body);
    }
}

/// `None` when tower-lsp-server can read the body; otherwise the request
/// that stands in for it.
fn check(body: &[u8]) -> Option<Vec<u8>> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(invalid(Value::Null, jsonrpc::ErrorCode::ParseError, &format!("the message is not JSON: {e}"))),
    };
    if serde_json::from_value::<jsonrpc::Request>(value.clone()).is_ok() || serde_json::from_value::<jsonrpc::Response>(value.clone()).is_ok() {
        return None;
    }
    let id = value.get("id").filter(|id| id.is_string() || id.is_i64() || id.is_u64()).cloned().unwrap_or(Value::Null);
    Some(invalid(id, jsonrpc::ErrorCode::InvalidRequest, "the message is not a JSON-RPC 2.0 request, notification or response"))
}

fn invalid(id: Value, code: jsonrpc::ErrorCode, reason: &str) -> Vec<u8> {
    let message = json!({"jsonrpc": "2.0", "id": id, "method": INVALID_MESSAGE, "params": {"code": code.code(), "reason": reason}});
    serde_json::to_vec(&message).unwrap_or_default()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl<R: AsyncRead + Unpin> AsyncRead for Guard<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.taken < self.output.len() {
                let n = (self.output.len() - self.taken).min(buf.remaining());
                let from = self.taken;
                buf.put_slice(&self.output[from..from + n]);
                self.taken += n;
                return Poll::Ready(Ok(()));
            }
            if self.eof {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let filled = read.filled();
                    if filled.is_empty() {
                        self.eof = true;
                    } else {
                        self.input.extend_from_slice(filled);
                        self.frame();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<Value> {
        let mut g = Guard::new(&b""[..]);
        g.input.extend_from_slice(input);
        g.frame();
        let out = String::from_utf8(g.output).expect("utf-8");
        out.split("Content-Length: ").skip(1).map(|f| serde_json::from_str(f.split_once("\r\n\r\n").expect("frame").1).expect("json")).collect()
    }

    #[test]
    fn valid_frames_pass_and_bad_ones_become_answerable_requests() {
        let ok = br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let mut input = format!("Content-Length: {}\r\n\r\n", ok.len()).into_bytes();
        input.extend_from_slice(ok);
        input.extend_from_slice(b"Content-Length: 4\r\n\r\n{bad");
        input.extend_from_slice(b"Content-Length: 17\r\n\r\n{\"id\":7,\"x\":true}");
        input.extend_from_slice(b"X-Nonsense: 1\r\n\r\n");
        input.extend_from_slice(b"garbage before a frame Content-Length: 2\r\n\r\n[]");
        let got = frames(&input);
        assert_eq!(got[0]["method"], "shutdown");
        assert_eq!((got[1]["method"].as_str(), got[1]["params"]["code"].as_i64(), &got[1]["id"]), (Some(INVALID_MESSAGE), Some(-32700), &Value::Null));
        assert_eq!((got[2]["params"]["code"].as_i64(), &got[2]["id"]), (Some(-32600), &json!(7)));
        assert_eq!(got[3]["params"]["code"].as_i64(), Some(-32700));
        assert_eq!(got[4]["params"]["code"].as_i64(), Some(-32600));
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn a_frame_split_across_reads_waits_for_its_body() {
        let mut g = Guard::new(&b""[..]);
        g.input.extend_from_slice(b"Content-Length: 40\r\n\r\n{\"jsonrpc\":");
        g.frame();
        assert!(g.output.is_empty());
        g.input.extend_from_slice(b"\"2.0\",\"method\":\"initialized\"}");
        g.frame();
        assert!(String::from_utf8_lossy(&g.output).ends_with("\"initialized\"}"));
    }
}
