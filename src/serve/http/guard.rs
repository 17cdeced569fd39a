//! What a request must pass before a handler sees it: the `Host` it names
//! (against DNS rebinding), its `Origin` (against cross-site requests from a
//! browser; CORS only for configured origins), its credentials, and the rate
//! limit of its token.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use hyper::HeaderMap;

use crate::serve::ServeArgs;

pub(in crate::serve) struct Guard {
    /// Configured `--allow-host` names, lower case, each with or without a port.
    hosts: Vec<String>,
    /// The bound address (the port `Host` may carry, and whether loopback names are served).
    bound: Mutex<Option<SocketAddr>>,
    /// `--cors-origin`s, normalised.
    cors: HashSet<String>,
    /// Requests per minute per token.
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Failed authentications per client address (against token guessing).
    failures: Mutex<HashMap<IpAddr, Bucket>>,
    directory: DirectoryCache,
}

/// A refusal: the status and what to tell the client.
pub(in crate::serve) struct Refusal {
    pub status: u16,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl Refusal {
    fn new(status: u16, message: impl Into<String>) -> Refusal {
        Refusal { status, message: message.into(), retry_after: None }
    }
}

impl Guard {
    pub fn new(args: &ServeArgs, listen: SocketAddr, project_dir: &Path) -> Result<Guard, String> {
        let mut hosts = Vec::new();
        for h in &args.allow_hosts {
            let h = h.trim().to_ascii_lowercase();
            if h.is_empty() || h.contains('/') || h.contains("://") {
                return Err(format!("--allow-host `{h}`: give a host name with an optional port (e.g. flow.example.com or flow.example.com:443), not a URL"));
            }
            hosts.push(h);
        }
        let mut cors = HashSet::new();
        for o in &args.cors_origins {
            let norm = normalize_origin(o)
                .ok_or_else(|| format!("--cors-origin `{o}`: give an origin, scheme://host[:port] (e.g. https://console.example.com)"))?;
            cors.insert(norm);
        }
        if args.rate_limit == 0 {
            return Err("--rate-limit must be at least 1 request per minute".into());
        }
        Ok(Guard {
            hosts,
            bound: Mutex::new(Some(listen)),
            cors,
            per_minute: args.rate_limit,
            buckets: Mutex::default(),
            failures: Mutex::default(),
            directory: DirectoryCache::new(project_dir),
        })
    }

    pub fn listening_on(&self, bound: SocketAddr) {
        if let Ok(mut b) = self.bound.lock() {
            *b = Some(bound);
        }
    }

    /// The request's `Host` must be one this server answers to.
    pub fn check_host(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(host) = headers.get(hyper::header::HOST).and_then(|h| h.to_str().ok()) else {
            return Err(Refusal::new(400, "the request has no Host header"));
        };
        if self.host_allowed(host) {
            Ok(())
        } else {
            Err(Refusal::new(
                421,
                format!("this server does not answer to the host `{host}`; start flowc serve with --allow-host to add it"),
            ))
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let (name, port) = split_host_port(&host);
        if self.hosts.iter().any(|h| *h == host || (!h.contains(':') || h.starts_with('[')) && *h == name) {
            return true;
        }
        let Some(bound) = self.bound.lock().ok().and_then(|b| *b) else { return false };
        if port.is_some_and(|p| p != bound.port()) {
            return false;
        }
        let ip = bound.ip();
        if ip.is_loopback() && matches!(name, "localhost" | "127.0.0.1" | "[::1]") {
            return true;
        }
        !ip.is_unspecified() && name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok() == Some(ip)
    }

    /// A browser's cross-site request is refused unless its origin is
    /// configured for CORS. Returns the origin to echo in CORS headers.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<Option<String>, Refusal> {
        let origin = headers.get(hyper::header::ORIGIN).map(|o| o.to_str().unwrap_or("?").to_string());
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase);
        let Some(origin) = origin else {
            if fetch_site.as_deref() == Some("cross-site") {
                return Err(Refusal::new(403, "cross-site requests are refused"));
            }
            return Ok(None);
        };
        let norm = normalize_origin(&origin);
        if let Some(n) = &norm
            && self.cors.contains(n)
        {
            return Ok(Some(origin));
        }
        // Same origin: the page was served from this very host.
        let host = headers.get(hyper::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if let Some(n) = norm
            && let Some(rest) = n.split_once("://").map(|(_, r)| r)
            && (rest == host || rest == format!("{}:{}", host, default_port(&n)) || format!("{rest}:{}", default_port(&n)) == host)
            && fetch_site.as_deref() != Some("cross-site")
        {
            return Ok(None);
        }
        Err(Refusal::new(
            403,
            format!("requests from the origin `{origin}` are refused; start flowc serve with --cors-origin {origin} to allow that site"),
        ))
    }

    /// Counts one request of a token; refuses it past the rate limit.
    pub fn rate(&self, token_id: &str) -> Result<(), Refusal> {
        let capacity = (self.per_minute as f64 / 10.0).max(10.0);
        let per_second = self.per_minute as f64 / 60.0;
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        let bucket = buckets.entry(token_id.to_string()).or_insert_with(|| Bucket::full(capacity));
        bucket.take(capacity, per_second).map_err(|wait| Refusal {
            status: 429,
            message: format!("too many requests for this token (limit {} per minute); retry in {wait} s", self.per_minute),
            retry_after: Some(wait),
        })
    }

    /// Whether an address may try to authenticate again (ten failures, then one every six seconds).
    pub fn failures_allow(&self, ip: IpAddr) -> Result<(), Refusal> {
        let Ok(f) = self.failures.lock() else { return Ok(()) };
        match f.get(&ip) {
            Some(b) if b.peek(10.0, 1.0 / 6.0) < 1.0 => Err(Refusal {
                status: 429,
                message: "too many failed authentications from this address; wait a minute".into(),
                retry_after: Some(6),
            }),
            _ => Ok(()),
        }
    }

    pub fn failed(&self, ip: IpAddr) {
        if let Ok(mut f) = self.failures.lock() {
            if f.len() > 10_000 {
                f.retain(|_, b| b.peek(10.0, 1.0 / 6.0) < 10.0);
            }
            let _ = f.entry(ip).or_insert_with(|| Bucket::full(10.0)).take(10.0, 1.0 / 6.0);
        }
    }

    pub fn directory(&self) -> Result<std::sync::Arc<Directory>, String> {
        self.directory.get()
    }

    /// CORS response headers for an allowed origin.
    pub fn cors_headers(origin: &str) -> [(&'static str, String); 4] {
        [
            ("access-control-allow-origin", origin.to_string()),
            ("vary", "Origin".into()),
            ("access-control-allow-headers", "authorization, content-type".into()),
            ("access-control-allow-methods", "GET, POST".into()),
        ]
    }
}

fn split_host_port(host: &str) -> (&str, Option<u16>) {
    if let Some(end) = host.strip_prefix('[').and_then(|_| host.find(']')) {
        let name = &host[..=end];
        let port = host[end + 1..].strip_prefix(':').and_then(|p| p.parse().ok());
        return (name, port);
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (name, port.parse().ok()),
        None => (host, None),
    }
}

fn default_port(origin: &str) -> u16 {
    if origin.starts_with("https://") { 443 } else { 80 }
}

/// `scheme://host[:port]`, lower case, no path; None when it is not an origin.
fn normalize_origin(origin: &str) -> Option<String> {
    let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = o.split_once("://")?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return None;
    }
    Some(o)
}

/// A token bucket.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64) -> Bucket {
        Bucket { tokens: capacity, at: Instant::now() }
    }

    fn peek(&self, capacity: f64, per_second: f64) -> f64 {
        (self.tokens + self.at.elapsed().as_secs_f64() * per_second).min(capacity)
    }

    /// Takes one token, or says in how many seconds one will be there.
    fn take(&mut self, capacity: f64, per_second: f64) -> Result<(), u64> {
        self.tokens = self.peek(capacity, per_second);
        self.at = Instant::now();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

pub(in crate::serve) use flowc_plan::directory::{Directory, Role};

/// The project's directory (flowc.toml), re-read when the file changes, so
/// a principal removed from it loses access without a restart.
struct DirectoryCache {
    path: PathBuf,
    dir: PathBuf,
    cached: Mutex<Option<(Option<SystemTime>, std::sync::Arc<Directory>)>>,
}

impl DirectoryCache {
    fn new(project_dir: &Path) -> DirectoryCache {
        DirectoryCache { path: project_dir.join("flowc.toml"), dir: project_dir.to_path_buf(), cached: Mutex::new(None) }
    }

    fn get(&self) -> Result<std::sync::Arc<Directory>, String> {
        let mtime = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let Ok(mut cached) = self.cached.lock() else { return Err("internal error: the directory cache is poisoned".into()) };
        if let Some((at, dir)) = &*cached
            && *at == mtime
        {
            return Ok(dir.clone());
        }
        let dir = std::sync::Arc::new(Directory::load(&self.dir).map_err(|e| format!("flowc.toml: {e}"))?);
        *cached = Some((mtime, dir.clone()));
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalise() {
        assert_eq!(normalize_origin("HTTPS://Console.Example.com/").as_deref(), Some("https://console.example.com"));
        assert_eq!(normalize_origin("null"), None);
        assert_eq!(normalize_origin("https://a.example/path"), None);
        assert_eq!(normalize_origin("ftp://a.example"), None);
    }

    #[test]
    fn host_ports_split() {
        assert_eq!(split_host_port("localhost:8750"), ("localhost", Some(8750)));
        assert_eq!(split_host_port("[::1]:8750"), ("[::1]", Some(8750)));
        assert_eq!(split_host_port("[::1]"), ("[::1]", None));
        assert_eq!(split_host_port("example.com"), ("example.com", None));
    }

    #[test]
    fn buckets_refill() {
        let mut b = Bucket::full(2.0);
        assert!(b.take(2.0, 1.0).is_ok());
        assert!(b.take(2.0, 1.0).is_ok());
        assert_eq!(b.take(2.0, 1.0), Err(1));
    }
}
