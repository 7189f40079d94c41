//! `--web.config.file`: the Prometheus exporter-toolkit web configuration
//! (the file node_exporter and every toolkit exporter take), so one file
//! serves a fleet of exporters.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt        # or cert: inline PEM
//!   key_file: server.key         # or key: inline PEM
//!   client_auth_type: RequireAndVerifyClientCert   # optional
//!   client_ca_file: clients.pem                    # with it
//!   min_version: TLS12           # TLS12 or TLS13
//! http_server_config:
//!   headers: { Strict-Transport-Security: max-age=31536000 }
//! basic_auth_users:
//!   prometheus: $2y$10$...       # bcrypt (htpasswd -nBC 10 "" | tr -d ':\n')
//! rate_limit: { interval: 1s, burst: 20 }
//! ```
//!
//! Relative paths are taken from the file's directory, as the toolkit does.
//! The file and the files it names are read again when one of them
//! changes (checked at most once a second, as connections arrive): a
//! renewed certificate is served without a restart; a change that does
//! not load is logged and the last good configuration kept.
//!
//! Refused, naming the key, rather than silently ignored: settings of the
//! toolkit that rustls cannot honour (`cipher_suites`, `curve_preferences`,
//! TLS 1.0/1.1, `client_allowed_sans`, client-certificate modes that do not
//! verify). Ignoring a security setting would serve less than the file asks.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    tls_server_config: Option<TlsSection>,
    http_server_config: Option<HttpSection>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    rate_limit: Option<RateSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    cert: Option<String>,
    cert_file: Option<String>,
    key: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_ca: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSection {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateSection {
    interval: Option<String>,
    burst: Option<u32>,
}

/// A loaded web configuration.
#[derive(Clone)]
pub struct Loaded {
    /// The TLS configuration, when the listener speaks TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Users and their bcrypt hashes (empty: no authentication).
    users: BTreeMap<String, String>,
    /// Headers added to every response.
    pub headers: Vec<(String, String)>,
    /// Requests allowed per interval, and the burst.
    pub rate: Option<(Duration, u32)>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .field("rate", &self.rate)
            .finish()
    }
}

impl Loaded {
    /// Plain HTTP, no authentication: no file given.
    pub fn plain() -> Loaded {
        Loaded {
            tls: None,
            users: BTreeMap::new(),
            headers: Vec::new(),
            rate: None,
        }
    }

    /// Whether requests must authenticate.
    pub fn needs_auth(&self) -> bool {
        !self.users.is_empty()
    }
}

/// A configuration error, naming the file and the key.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    path: String,
    message: String,
}

fn err(path: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Files read and their modification times, to tell when to reload.
type Stamps = Vec<(PathBuf, Option<SystemTime>)>;

/// The headers the toolkit lets a configuration set.
const HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// Reads and checks a web configuration file; the files it names, as
/// `(path, modification time)`, for reloads.
pub fn load(path: &Path) -> Result<(Loaded, Stamps), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    let fc: FileConfig = if text.trim().is_empty() {
        FileConfig::default()
    } else {
        serde_norway::from_str(&text).map_err(|e| err(path, e.to_string()))?
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        }
    };
    let mut files = vec![(path.to_path_buf(), mtime(path))];
    let mut loaded = Loaded::plain();
    if let Some(t) = fc.tls_server_config {
        loaded.tls = Some(Arc::new(tls_config(path, &t, &resolve, &mut files)?));
    }
    if let Some(h) = fc.http_server_config {
        if h.http2 == Some(true) {
            tracing::debug!("http_server_config.http2: ctctl serves HTTP/1.1 only");
        }
        for (k, v) in h.headers.unwrap_or_default() {
            let Some(name) = HEADERS.iter().find(|n| n.eq_ignore_ascii_case(&k)) else {
                return Err(err(
                    path,
                    format!(
                        "http_server_config.headers: {k} cannot be set (allowed: {})",
                        HEADERS.join(", ")
                    ),
                ));
            };
            if v.contains(['\r', '\n']) {
                return Err(err(
                    path,
                    format!("http_server_config.headers.{k}: a value is one line"),
                ));
            }
            loaded.headers.push((name.to_string(), v));
        }
    }
    for (user, hash) in fc.basic_auth_users.unwrap_or_default() {
        if user.contains(':') {
            return Err(err(
                path,
                format!("basic_auth_users: user {user:?} contains ':'"),
            ));
        }
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(err(
                path,
                format!(
                    "basic_auth_users.{user}: not a bcrypt hash ($2a$, $2b$ or $2y$; make one with htpasswd -nBC 10 \"\" | tr -d ':\\n')"
                ),
            ));
        }
        loaded.users.insert(user, hash);
    }
    if let Some(r) = fc.rate_limit {
        let interval = match r.interval.as_deref() {
            None => Duration::ZERO,
            Some(s) => crate::select::values::parse_wait(s).map_err(|_| {
                err(
                    path,
                    format!("rate_limit.interval: {s:?} is not a duration such as 1s or 500ms"),
                )
            })?,
        };
        if !interval.is_zero() {
            loaded.rate = Some((interval, r.burst.unwrap_or(1).max(1)));
        }
    }
    Ok((loaded, files))
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn tls_config(
    path: &Path,
    t: &TlsSection,
    resolve: &dyn Fn(&str) -> PathBuf,
    files: &mut Stamps,
) -> Result<rustls::ServerConfig, ConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let refuse = |key: &str, why: &str| Err(err(path, format!("tls_server_config.{key}: {why}")));
    if t.cipher_suites.as_ref().is_some_and(|v| !v.is_empty()) {
        return refuse("cipher_suites", "not supported: ctctl uses rustls' suites (TLS 1.3 and the ECDHE AEAD suites of TLS 1.2); remove the key");
    }
    if t.curve_preferences.as_ref().is_some_and(|v| !v.is_empty()) {
        return refuse(
            "curve_preferences",
            "not supported: ctctl uses rustls' groups (X25519, P-256, P-384); remove the key",
        );
    }
    if t.client_allowed_sans
        .as_ref()
        .is_some_and(|v| !v.is_empty())
    {
        return refuse(
            "client_allowed_sans",
            "not supported; verify clients by CA (client_ca_file) instead",
        );
    }
    let pem = |inline: &Option<String>,
               file: &Option<String>,
               what: &str,
               files: &mut Stamps|
     -> Result<Vec<u8>, ConfigError> {
        match (inline, file) {
            (Some(_), Some(_)) => Err(err(
                path,
                format!("tls_server_config: give {what} or {what}_file, not both"),
            )),
            (Some(s), None) => Ok(s.as_bytes().to_vec()),
            (None, Some(f)) => {
                let p = resolve(f);
                let bytes = std::fs::read(&p).map_err(|e| {
                    err(
                        path,
                        format!("tls_server_config.{what}_file: {}: {e}", p.display()),
                    )
                })?;
                files.push((p.clone(), mtime(&p)));
                Ok(bytes)
            }
            (None, None) => Err(err(
                path,
                format!("tls_server_config: {what}_file (or {what}) is required"),
            )),
        }
    };
    let version = |v: &Option<String>,
                   key: &str,
                   default: &'static rustls::SupportedProtocolVersion|
     -> Result<&'static rustls::SupportedProtocolVersion, ConfigError> {
        match v.as_deref() {
            None => Ok(default),
            Some("TLS12") => Ok(&rustls::version::TLS12),
            Some("TLS13") => Ok(&rustls::version::TLS13),
            Some("TLS10" | "TLS11") => Err(err(path, format!("tls_server_config.{key}: TLS 1.0 and 1.1 are not supported (rustls); use TLS12 or TLS13"))),
            Some(other) => Err(err(path, format!("tls_server_config.{key}: {other:?}: one of TLS12, TLS13"))),
        }
    };
    let min = version(&t.min_version, "min_version", &rustls::version::TLS12)?;
    let max = version(&t.max_version, "max_version", &rustls::version::TLS13)?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [&rustls::version::TLS12, &rustls::version::TLS13]
            .into_iter()
            .filter(|v| {
                let n = u16::from(v.version);
                n >= u16::from(min.version) && n <= u16::from(max.version)
            })
            .collect();
    if versions.is_empty() {
        return refuse("min_version", "is above max_version");
    }
    // Client certificates: none, required, or verified when given.
    let verify_clients = match t.client_auth_type.as_deref().unwrap_or("NoClientCert") {
        "NoClientCert" => None,
        "RequireAndVerifyClientCert" => Some(true),
        "VerifyClientCertIfGiven" => Some(false),
        "RequestClientCert" | "RequireAnyClientCert" => {
            return refuse("client_auth_type", "modes that accept unverified certificates are not supported; use RequireAndVerifyClientCert with client_ca_file");
        }
        other => {
            return Err(err(path, format!("tls_server_config.client_auth_type: {other:?}: one of NoClientCert, RequireAndVerifyClientCert, VerifyClientCertIfGiven")));
        }
    };
    let cert_pem = pem(&t.cert, &t.cert_file, "cert", files)?;
    let key_pem = pem(&t.key, &t.key_file, "key", files)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| err(path, format!("tls_server_config.cert: {e}")))?;
    if chain.is_empty() {
        return refuse("cert", "no PEM certificate in it");
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        err(
            path,
            format!("tls_server_config.key: no PEM private key in it ({e})"),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| err(path, format!("tls_server_config: {e}")))?;
    let builder = match verify_clients {
        None => {
            if t.client_ca_file.is_some() || t.client_ca.is_some() {
                return refuse("client_ca_file", "given, but client_auth_type is NoClientCert: set client_auth_type: RequireAndVerifyClientCert");
            }
            builder.with_no_client_auth()
        }
        Some(required) => {
            let ca_pem = pem(&t.client_ca, &t.client_ca_file, "client_ca", files)?;
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&ca_pem) {
                let c = c.map_err(|e| err(path, format!("tls_server_config.client_ca: {e}")))?;
                roots
                    .add(c)
                    .map_err(|e| err(path, format!("tls_server_config.client_ca: {e}")))?;
            }
            let mut v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            if !required {
                v = v.allow_unauthenticated();
            }
            let verifier = v
                .build()
                .map_err(|e| err(path, format!("tls_server_config.client_ca: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder.with_single_cert(chain, key).map_err(|e| {
        err(
            path,
            format!("tls_server_config: the key does not fit the certificate ({e})"),
        )
    })?;
    cfg.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// The web configuration in force, reloaded when its files change.
pub struct Web {
    path: Option<PathBuf>,
    state: Mutex<State>,
    auth: Auth,
}

struct State {
    loaded: Arc<Loaded>,
    files: Stamps,
    checked: Instant,
    failed: Option<Stamps>,
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web").field("path", &self.path).finish()
    }
}

impl Web {
    /// From `--web.config.file` (none: plain HTTP, no authentication).
    pub fn new(path: Option<PathBuf>) -> Result<Web, ConfigError> {
        let (loaded, files) = match &path {
            Some(p) => load(p)?,
            None => (Loaded::plain(), Vec::new()),
        };
        Ok(Web {
            path,
            state: Mutex::new(State {
                loaded: Arc::new(loaded),
                files,
                checked: Instant::now(),
                failed: None,
            }),
            auth: Auth::default(),
        })
    }

    /// The configuration for a new connection: reloaded first when a file
    /// changed (looked at most once a second).
    pub fn current(&self) -> Arc<Loaded> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = &self.path {
            if s.checked.elapsed() >= Duration::from_secs(1) {
                s.checked = Instant::now();
                let now: Vec<_> = s.files.iter().map(|(p, _)| (p.clone(), mtime(p))).collect();
                let changed = now != s.files && s.failed.as_ref() != Some(&now);
                if changed {
                    match load(path) {
                        Ok((l, files)) => {
                            tracing::info!("web configuration reloaded from {}", path.display());
                            s.loaded = Arc::new(l);
                            s.files = files;
                            s.failed = None;
                            self.auth.clear();
                        }
                        Err(e) => {
                            tracing::error!(
                                "web configuration not reloaded, the last one stays: {e}"
                            );
                            s.failed = Some(now);
                        }
                    }
                }
            }
        }
        Arc::clone(&s.loaded)
    }

    /// The credential checker.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }
}

/// Basic authentication: bcrypt checks, with the credentials that passed
/// remembered (as SHA-256 digests, at most 64) so a scrape every few
/// seconds does not pay a bcrypt each time.
#[derive(Default)]
pub struct Auth {
    passed: Mutex<HashSet<[u8; 32]>>,
}

/// What an `Authorization` header is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Known good.
    Pass,
    /// Wrong, missing or malformed.
    Fail,
    /// Needs a bcrypt check (slow: tens of milliseconds).
    Check,
}

fn digest(user: &str, pass: &[u8], hash: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user.as_bytes(), b"\0", pass, b"\0", hash.as_bytes()] {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn credentials(header: Option<&str>) -> Option<(String, Vec<u8>)> {
    let v = header?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = raw.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(raw[..colon].to_vec()).ok()?;
    Some((user, raw[colon + 1..].to_vec()))
}

impl Loaded {
    /// The hash to check a user's password against: theirs, or for an
    /// unknown user another user's (so that a missing user costs what a
    /// wrong password does, and never passes).
    fn hash_of(&self, user: &str) -> (&str, bool) {
        match self.users.get(user) {
            Some(h) => (h.as_str(), true),
            None => (self.users.values().next().map_or("", String::as_str), false),
        }
    }
}

impl Auth {
    fn clear(&self) {
        self.passed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The quick answer, without bcrypt.
    pub fn quick(&self, cfg: &Loaded, header: Option<&str>) -> Verdict {
        if !cfg.needs_auth() {
            return Verdict::Pass;
        }
        let Some((user, pass)) = credentials(header) else {
            return Verdict::Fail;
        };
        let (hash, known) = cfg.hash_of(&user);
        if !known {
            return Verdict::Check;
        }
        let d = digest(&user, &pass, hash);
        if self
            .passed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&d)
        {
            Verdict::Pass
        } else {
            Verdict::Check
        }
    }

    /// The bcrypt check (slow), remembered when it passes.
    pub fn check(&self, cfg: &Loaded, header: Option<&str>) -> bool {
        let Some((user, pass)) = credentials(header) else {
            return false;
        };
        let (hash, known) = cfg.hash_of(&user);
        let ok = bcrypt::verify(&pass, hash).unwrap_or(false) && known;
        if ok {
            let mut passed = self.passed.lock().unwrap_or_else(|p| p.into_inner());
            if passed.len() >= 64 {
                passed.clear();
            }
            passed.insert(digest(&user, &pass, hash));
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "ctctl-web-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn rand_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn users_are_checked_by_bcrypt_and_remembered_when_they_pass() {
        let d = tmp();
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let p = write(
            &d,
            "web.yml",
            &format!("basic_auth_users:\n  prom: '{hash}'\n"),
        );
        let (cfg, _) = load(&p).unwrap();
        let auth = Auth::default();
        let b64 = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        let good = b64("prom:s3cret");
        assert_eq!(auth.quick(&cfg, Some(&good)), Verdict::Check);
        assert!(auth.check(&cfg, Some(&good)));
        assert_eq!(auth.quick(&cfg, Some(&good)), Verdict::Pass);
        for bad in [
            b64("prom:wrong"),
            b64("nobody:s3cret"),
            "Bearer x".into(),
            "Basic !!".into(),
        ] {
            assert_ne!(auth.quick(&cfg, Some(&bad)), Verdict::Pass, "{bad}");
            assert!(!auth.check(&cfg, Some(&bad)), "{bad}");
        }
        assert_eq!(auth.quick(&cfg, None), Verdict::Fail);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn settings_rustls_cannot_honour_are_refused_by_name() {
        let d = tmp();
        for (text, want) in [
            ("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n", "cipher_suites"),
            ("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n", "min_version"),
            ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAnyClientCert\n", "client_auth_type"),
            ("basic_auth_users:\n  u: plain\n", "basic_auth_users.u"),
            ("tls_server_config:\n  cert_fil: a\n", "cert_fil"),
            ("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", "cert_file"),
            ("http_server_config:\n  headers:\n    Set-Cookie: x\n", "Set-Cookie"),
        ] {
            let p = write(&d, "web.yml", text);
            let e = load(&p).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        std::fs::remove_dir_all(d).unwrap();
    }
}
