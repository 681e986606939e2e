//! Keys as merchants hold them (docs/protocol.md §6): PKCS#8 or PKCS#1 PEM, the bare base64
//! body of either, or DER bytes; Alipay's public key as SubjectPublicKeyInfo or PKCS#1.
//!
//! A parsed key is a type, never a string. None of these types prints key material through
//! `Debug`, and no error message quotes it: messages say what kind of thing was found.

use crate::error::{Error, Result};
use base64ct::{Base64, Base64Unpadded, Encoding};
use rsa::pkcs1::{DecodeRsaPublicKey, RsaPrivateKeyRef};
use rsa::pkcs8::der::Decode;
use rsa::pkcs8::spki::{EncodePublicKey, SubjectPublicKeyInfoRef};
use rsa::pkcs8::{ObjectIdentifier, PrivateKeyInfoRef};
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

/// The smallest RSA modulus accepted, in bits (Alipay's demos use 1024).
pub const MIN_RSA_BITS: usize = 1024;
/// The largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = 8192;

/// Key bytes as the caller handed them over.
#[derive(Clone, Copy)]
pub enum KeyInput<'a> {
    /// A string: PEM, or the bare base64 body of a DER key.
    Text(&'a str),
    /// Bytes: DER, or the bytes of a PEM / base64 text.
    Bytes(&'a [u8]),
}

impl fmt::Debug for KeyInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyInput::Text(s) => write!(f, "KeyInput::Text(<{} chars redacted>)", s.len()),
            KeyInput::Bytes(b) => write!(f, "KeyInput::Bytes(<{} bytes redacted>)", b.len()),
        }
    }
}

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

fn algorithm_name(oid: &ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.2.840.10045.2.1" => "an EC key".into(),
        "1.3.101.112" => "an Ed25519 key".into(),
        "1.3.101.113" => "an Ed448 key".into(),
        "1.3.101.110" => "an X25519 key".into(),
        "1.3.101.111" => "an X448 key".into(),
        "1.2.840.10040.4.1" => "a DSA key".into(),
        "1.2.840.113549.1.1.10" => "an RSA-PSS key (restricted to PSS signatures)".into(),
        "1.2.156.10197.1.301" => "an SM2 key".into(),
        other => format!("a key of algorithm {other}"),
    }
}

/// What a key text or byte string turned out to hold.
enum Decoded {
    /// DER bytes, and the PEM label if there was one.
    Der(Zeroizing<Vec<u8>>, Option<String>),
}

/// Turns text or bytes into DER, reading PEM armour or bare base64 as needed.
fn decode(input: KeyInput<'_>, what: &str) -> Result<Decoded> {
    let text = match input {
        KeyInput::Text(s) => s,
        KeyInput::Bytes(b) => {
            let first = b.iter().find(|c| !c.is_ascii_whitespace());
            match first {
                None => return Err(Error::key(format!("the {what} is empty"))),
                // DER always starts with a SEQUENCE tag; text never does.
                Some(0x30) => return Ok(Decoded::Der(Zeroizing::new(b.to_vec()), None)),
                Some(_) => std::str::from_utf8(b).map_err(|_| {
                    Error::key(format!(
                        "the {what} bytes are neither DER (which starts with 0x30) nor PEM or base64 text"
                    ))
                })?,
            }
        }
    };
    // A key kept in an environment variable (.env files, Docker, Kubernetes) often has its
    // line breaks written as the two characters `\n`. Base64 never holds a backslash, so
    // they can only be line breaks: read them as such.
    let unescaped;
    let text = if text.contains("\\n") || text.contains("\\r") {
        unescaped = unescape_line_breaks(text);
        unescaped.as_str()
    } else {
        text
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Error::key(format!("the {what} is empty")));
    }
    if trimmed.contains("-----BEGIN") {
        let (label, headers, body) = pem_block(trimmed, what)?;
        if headers
            .iter()
            .any(|h| h.to_ascii_uppercase().contains("ENCRYPTED"))
        {
            return Err(Error::key(format!(
                "the {what} is an encrypted PEM ({label} with a Proc-Type: ENCRYPTED header); decrypt it first, e.g. `openssl pkey -in key.pem -out plain.pem`, and keep the result in a secret store"
            )));
        }
        let der = base64_body(&body).ok_or_else(|| {
            Error::key(format!(
                "the {what} PEM block \"{label}\" does not hold valid base64 between its BEGIN and END lines"
            ))
        })?;
        return Ok(Decoded::Der(der, Some(label)));
    }
    let der = match base64_body(trimmed) {
        Some(der) if looks_like_path(trimmed) && der.first() != Some(&0x30) => None,
        other => other,
    }
    .ok_or_else(|| {
        if looks_like_path(trimmed) {
            Error::key(format!(
                "the {what} looks like a file path, not a key; pass the file's contents, e.g. fs.readFileSync(path, 'utf8')"
            ))
        } else {
            Error::key(format!(
                "the {what} is neither PEM (-----BEGIN …-----) nor the bare base64 body of a DER key"
            ))
        }
    })?;
    Ok(Decoded::Der(der, None))
}

/// `text` with each written-out `\\r\\n`, `\\n` or `\\r` as a line break, in one pass into a
/// buffer that is wiped when dropped (no intermediate copies of the key).
fn unescape_line_breaks(text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(r) = after.strip_prefix("\\r\\n") {
            out.push('\n');
            rest = r;
        } else if let Some(r) = after
            .strip_prefix("\\n")
            .or_else(|| after.strip_prefix("\\r"))
        {
            out.push('\n');
            rest = r;
        } else {
            out.push('\\');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// A short text that names a file (`./keys/merchant.pem`, `C:\\keys\\app.key`, `~/key.pem`)
/// rather than holding a key.
fn looks_like_path(text: &str) -> bool {
    const ENDINGS: [&str; 6] = [".pem", ".key", ".txt", ".der", ".crt", ".pub"];
    let lower = text.to_ascii_lowercase();
    text.len() < 512
        && !text.contains(char::is_whitespace)
        && (ENDINGS.iter().any(|e| lower.ends_with(e))
            || text.starts_with("./")
            || text.starts_with("../")
            || text.starts_with("~/")
            || text.contains(":\\")
            || text.contains('\\'))
}

/// The first PEM block: its label, its header lines and its base64 body.
fn pem_block(text: &str, what: &str) -> Result<(String, Vec<String>, Zeroizing<String>)> {
    let bad = |why: &str| Error::key(format!("the {what} is not a well-formed PEM block: {why}"));
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| bad("no BEGIN line"))?;
    let after = &text[start + "-----BEGIN ".len()..];
    let label_end = after
        .find("-----")
        .ok_or_else(|| bad("the BEGIN line is not closed with -----"))?;
    let label = after[..label_end].trim().to_owned();
    if label.len() > 64
        || !label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit())
    {
        return Err(bad("the BEGIN line's label is not a PEM label"));
    }
    let rest = &after[label_end + 5..];
    let end_line = format!("-----END {label}-----");
    let end = rest
        .find(&end_line)
        .ok_or_else(|| bad(&format!("no matching \"{end_line}\" line")))?;
    let inner = &rest[..end];
    let mut headers = Vec::new();
    let mut body = Zeroizing::new(String::new());
    for line in inner.lines() {
        let line = line.trim();
        if line.contains(':') {
            headers.push(line.to_owned());
        } else {
            body.push_str(line);
        }
    }
    Ok((label, headers, body))
}

/// Decodes standard base64, ignoring whitespace anywhere; padding optional.
fn base64_body(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
    if compact.is_empty() {
        return None;
    }
    Base64::decode_vec(&compact)
        .or_else(|_| Base64Unpadded::decode_vec(&compact))
        .ok()
        .map(Zeroizing::new)
}

/// Bits in a big-endian unsigned integer.
fn bit_len(be: &[u8]) -> usize {
    match be.iter().position(|b| *b != 0) {
        None => 0,
        Some(i) => (be.len() - i) * 8 - be[i].leading_zeros() as usize,
    }
}

fn check_bits(bits: usize, what: &str) -> Result<()> {
    if bits < MIN_RSA_BITS {
        return Err(Error::key(format!(
            "the {what} is a {bits}-bit RSA key; keys under {MIN_RSA_BITS} bits are refused (use a 2048-bit key)"
        )));
    }
    if bits > MAX_RSA_BITS {
        return Err(Error::key(format!(
            "the {what} is a {bits}-bit RSA key; keys over {MAX_RSA_BITS} bits are not supported"
        )));
    }
    Ok(())
}

/// DER that looks like an EncryptedPrivateKeyInfo: PBES2 or a PKCS#12 PBE algorithm near the start.
fn looks_encrypted(der: &[u8]) -> bool {
    const PBES2: &[u8] = &[
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D,
    ];
    const PKCS12_PBE: &[u8] = &[
        0x06, 0x0A, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01,
    ];
    let head = &der[..der.len().min(24)];
    head.windows(PBES2.len()).any(|w| w == PBES2)
        || head.windows(PKCS12_PBE.len()).any(|w| w == PKCS12_PBE)
}

/// Which implementation holds a private key and signs with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// RustCrypto's `rsa`: pure Rust, blinded.
    RustCrypto,
    /// OpenSSL (vendored, static): constant-time and blinded, several times faster.
    #[cfg(feature = "openssl")]
    OpenSsl,
}

impl Backend {
    /// The backend `RsaPrivateKey::parse` uses: OpenSSL when it is compiled in.
    #[cfg(feature = "openssl")]
    pub const DEFAULT: Backend = Backend::OpenSsl;
    #[cfg(not(feature = "openssl"))]
    pub const DEFAULT: Backend = Backend::RustCrypto;

    pub const fn name(self) -> &'static str {
        match self {
            Backend::RustCrypto => "rustcrypto",
            #[cfg(feature = "openssl")]
            Backend::OpenSsl => "openssl",
        }
    }
}

pub(crate) enum PrivateImpl {
    RustCrypto(Box<rsa::PrivateKey>),
    #[cfg(feature = "openssl")]
    OpenSsl(openssl::pkey::PKey<openssl::pkey::Private>),
}

/// A merchant's RSA private key, parsed and checked.
pub struct RsaPrivateKey {
    inner: PrivateImpl,
    bits: usize,
    public_der: Vec<u8>,
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPrivateKey({} bits, <redacted>)", self.bits)
    }
}

impl RsaPrivateKey {
    /// Reads a private key in any format of docs/protocol.md §6, for the default backend.
    pub fn parse(input: KeyInput<'_>) -> Result<RsaPrivateKey> {
        Self::parse_with(input, Backend::DEFAULT)
    }

    /// Reads a private key for the given backend.
    pub fn parse_with(input: KeyInput<'_>, backend: Backend) -> Result<RsaPrivateKey> {
        const WHAT: &str = "private key";
        let Decoded::Der(der, label) = decode(input, WHAT)?;
        match label.as_deref() {
            None | Some("PRIVATE KEY") | Some("RSA PRIVATE KEY") => {}
            Some("ENCRYPTED PRIVATE KEY") => {
                return Err(Error::key(
                    "the private key is an encrypted PKCS#8 PEM (ENCRYPTED PRIVATE KEY); decrypt it first, e.g. `openssl pkey -in key.pem -out plain.pem`, and keep the result in a secret store",
                ))
            }
            Some(l @ ("PUBLIC KEY" | "RSA PUBLIC KEY")) => {
                return Err(Error::key(format!(
                    "a public key ({l}) was given where the merchant's private key belongs; sign with the private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)"
                )))
            }
            Some("CERTIFICATE") => {
                return Err(Error::key(
                    "a certificate was given where the merchant's private key belongs; pass the RSA private key (PKCS#8 or PKCS#1)",
                ))
            }
            Some(l @ ("EC PRIVATE KEY" | "DSA PRIVATE KEY" | "OPENSSH PRIVATE KEY")) => {
                return Err(Error::key(format!(
                    "the private key is not an RSA key (found {l}); Alipay's RSA and RSA2 need an RSA private key"
                )))
            }
            Some(l) => {
                return Err(Error::key(format!(
                    "the PEM block is \"{l}\"; expected PRIVATE KEY (PKCS#8) or RSA PRIVATE KEY (PKCS#1)"
                )))
            }
        }
        Self::from_der(&der, label.as_deref(), backend)
    }

    fn from_der(der: &[u8], label: Option<&str>, backend: Backend) -> Result<RsaPrivateKey> {
        const WHAT: &str = "private key";
        // PKCS#8 first, then PKCS#1. A PKCS#8 body under an `RSA PRIVATE KEY` label (what
        // Alipay's key tool users paste) is read like the other mislabels.
        if let Ok(info) = PrivateKeyInfoRef::from_der(der) {
            if info.algorithm.oid != OID_RSA {
                return Err(Error::key(format!(
                    "the private key is {}, not an RSA key; Alipay's RSA and RSA2 need an RSA private key",
                    algorithm_name(&info.algorithm.oid)
                )));
            }
            return Self::from_pkcs1(info.private_key.as_bytes(), backend);
        }
        if RsaPrivateKeyRef::from_der(der).is_ok() {
            return Self::from_pkcs1(der, backend);
        }
        if label == Some("RSA PRIVATE KEY") {
            return Err(Error::key(
                "the RSA PRIVATE KEY block holds neither a PKCS#1 nor a PKCS#8 RSA private key; the key text may be truncated or damaged",
            ));
        }
        if SubjectPublicKeyInfoRef::from_der(der).is_ok()
            || rsa::PublicKey::from_pkcs1_der(der).is_ok()
        {
            return Err(Error::key(
                "a public key was given where the merchant's private key belongs; sign with the private key (PKCS#8 `MII…` body or -----BEGIN PRIVATE KEY-----)",
            ));
        }
        if looks_encrypted(der) {
            return Err(Error::key(
                "the private key is encrypted (PKCS#8 EncryptedPrivateKeyInfo); decrypt it first, e.g. `openssl pkey -in key.pem -out plain.pem`",
            ));
        }
        Err(Error::key(format!(
            "the {WHAT} is not a PKCS#8 or PKCS#1 RSA private key; the key text may be truncated or damaged"
        )))
    }

    fn from_pkcs1(der: &[u8], backend: Backend) -> Result<RsaPrivateKey> {
        let damaged = || {
            Error::key("the RSA private key is malformed (its numbers are inconsistent); the key text may be truncated or damaged")
        };
        let parsed = RsaPrivateKeyRef::from_der(der).map_err(|_| damaged())?;
        let bits = bit_len(parsed.modulus.as_bytes());
        check_bits(bits, "private key")?;
        let encode_failed =
            || Error::internal("could not encode the public half of the private key");
        let (inner, public_der) = match backend {
            Backend::RustCrypto => {
                let key = rsa::PrivateKey::try_from(parsed).map_err(|_| damaged())?;
                let public_der = key
                    .to_public_key()
                    .to_public_key_der()
                    .map_err(|_| encode_failed())?
                    .into_vec();
                (PrivateImpl::RustCrypto(Box::new(key)), public_der)
            }
            #[cfg(feature = "openssl")]
            Backend::OpenSsl => {
                // The pure-Rust backend's checks first (n = p·q, d·e ≡ 1 mod p−1 and q−1, d < n,
                // e in range; ~0.05/0.12 ms): the pairwise test below cannot see a damaged p
                // or q, because OpenSSL quietly recomputes a failed CRT signature from d and n,
                // so such a key was accepted here and refused by the other backend (fuzzing).
                rsa::PrivateKey::try_from(parsed).map_err(|_| damaged())?;
                let rsa = openssl::rsa::Rsa::private_key_from_der(der).map_err(|_| damaged())?;
                let pkey = openssl::pkey::PKey::from_rsa(rsa).map_err(|_| damaged())?;
                // A damaged key is refused here rather than signing garbage: one signature,
                // checked with the public half (a pairwise test; RSA_check_key's primality
                // tests would cost 10 to 50 ms a key).
                if !openssl_pairwise_ok(&pkey) {
                    return Err(damaged());
                }
                let public_der = pkey.public_key_to_der().map_err(|_| encode_failed())?;
                (PrivateImpl::OpenSsl(pkey), public_der)
            }
        };
        Ok(RsaPrivateKey {
            inner,
            bits,
            public_der,
        })
    }

    /// The backend that holds this key.
    pub fn backend(&self) -> Backend {
        match self.inner {
            PrivateImpl::RustCrypto(_) => Backend::RustCrypto,
            #[cfg(feature = "openssl")]
            PrivateImpl::OpenSsl(_) => Backend::OpenSsl,
        }
    }

    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The public key as SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// SHA-256 hex of the public key's SubjectPublicKeyInfo DER.
    pub fn fingerprint(&self) -> String {
        sha256_hex(&self.public_der)
    }

    pub(crate) fn implementation(&self) -> &PrivateImpl {
        &self.inner
    }
}

#[cfg(feature = "openssl")]
fn openssl_pairwise_ok(pkey: &openssl::pkey::PKey<openssl::pkey::Private>) -> bool {
    use openssl::hash::MessageDigest;
    const PROBE: &[u8] = b"alipayhk-pay key check";
    let signed = openssl::sign::Signer::new(MessageDigest::sha256(), pkey)
        .and_then(|mut s| s.sign_oneshot_to_vec(PROBE));
    let Ok(signature) = signed else {
        return false;
    };
    openssl::sign::Verifier::new(MessageDigest::sha256(), pkey)
        .and_then(|mut v| v.verify_oneshot(&signature, PROBE))
        .unwrap_or(false)
}

/// An RSA public key (Alipay's, or the merchant's own for checking an orderStr).
#[derive(Clone)]
pub struct RsaPublicKey {
    inner: PublicImpl,
    bits: usize,
    der: Vec<u8>,
}

/// The implementation that checks signatures with a public key, chosen like the signing one.
#[derive(Clone)]
pub(crate) enum PublicImpl {
    RustCrypto(Box<rsa::PublicKey>),
    #[cfg(feature = "openssl")]
    OpenSsl(openssl::pkey::PKey<openssl::pkey::Public>),
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RsaPublicKey({} bits, sha256:{})",
            self.bits,
            self.fingerprint()
        )
    }
}

impl RsaPublicKey {
    /// Reads SubjectPublicKeyInfo (PEM or bare base64, `MIGf…` / `MIIBIj…`) or PKCS#1
    /// (`-----BEGIN RSA PUBLIC KEY-----`), or DER bytes of either.
    pub fn parse(input: KeyInput<'_>) -> Result<RsaPublicKey> {
        Self::parse_with(input, Backend::DEFAULT)
    }

    /// [`RsaPublicKey::parse`] for a chosen backend: the differential tests check the same
    /// signatures through both.
    pub fn parse_with(input: KeyInput<'_>, backend: Backend) -> Result<RsaPublicKey> {
        let Decoded::Der(der, label) = decode(input, "public key")?;
        match label.as_deref() {
            None | Some("PUBLIC KEY") | Some("RSA PUBLIC KEY") => {}
            Some(l) if l.contains("PRIVATE KEY") => {
                return Err(Error::key(format!(
                    "a private key ({l}) was given where a public key belongs; pass the public key (-----BEGIN PUBLIC KEY----- or the bare base64 `MIIB…` body)"
                )))
            }
            Some(l) => {
                return Err(Error::key(format!(
                    "the PEM block is \"{l}\"; expected PUBLIC KEY (SubjectPublicKeyInfo) or RSA PUBLIC KEY (PKCS#1)"
                )))
            }
        }
        if let Ok(spki) = SubjectPublicKeyInfoRef::from_der(&der) {
            if spki.algorithm.oid != OID_RSA {
                return Err(Error::key(format!(
                    "the public key is {}, not an RSA key",
                    algorithm_name(&spki.algorithm.oid)
                )));
            }
            let pkcs1 = spki.subject_public_key.raw_bytes();
            return Self::from_pkcs1(pkcs1, backend);
        }
        if rsa::pkcs1::RsaPublicKeyRef::from_der(&der).is_ok() {
            return Self::from_pkcs1(&der, backend);
        }
        if PrivateKeyInfoRef::from_der(&der).is_ok() || RsaPrivateKeyRef::from_der(&der).is_ok() {
            return Err(Error::key(
                "a private key was given where a public key belongs; pass the public key (the bare base64 `MIIB…` body Alipay's portal shows, or -----BEGIN PUBLIC KEY-----)",
            ));
        }
        Err(Error::key(
            "the public key is not an RSA SubjectPublicKeyInfo or PKCS#1 public key; the key text may be truncated or damaged",
        ))
    }

    fn from_pkcs1(der: &[u8], backend: Backend) -> Result<RsaPublicKey> {
        let malformed = || {
            Error::key("the RSA public key is malformed; the key text may be truncated or damaged")
        };
        let parsed = rsa::pkcs1::RsaPublicKeyRef::from_der(der).map_err(|_| malformed())?;
        let bits = bit_len(parsed.modulus.as_bytes());
        check_bits(bits, "public key")?;
        // The pure-Rust parse judges every key, whatever backend checks signatures, so both
        // backends accept and refuse the same keys.
        let key = rsa::PublicKey::try_from(parsed).map_err(|_| malformed())?;
        let spki = key
            .to_public_key_der()
            .map_err(|_| Error::internal("could not encode the public key"))?
            .into_vec();
        let inner = match backend {
            Backend::RustCrypto => PublicImpl::RustCrypto(Box::new(key)),
            #[cfg(feature = "openssl")]
            Backend::OpenSsl => PublicImpl::OpenSsl(
                openssl::pkey::PKey::public_key_from_der(&spki).map_err(|_| malformed())?,
            ),
        };
        Ok(RsaPublicKey {
            inner,
            bits,
            der: spki,
        })
    }

    /// The backend that checks signatures with this key.
    pub fn backend(&self) -> Backend {
        match self.inner {
            PublicImpl::RustCrypto(_) => Backend::RustCrypto,
            #[cfg(feature = "openssl")]
            PublicImpl::OpenSsl(_) => Backend::OpenSsl,
        }
    }

    pub fn bits(&self) -> usize {
        self.bits
    }

    /// SubjectPublicKeyInfo DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 hex of the SubjectPublicKeyInfo DER.
    pub fn fingerprint(&self) -> String {
        sha256_hex(&self.der)
    }

    pub(crate) fn implementation(&self) -> &PublicImpl {
        &self.inner
    }

    pub fn modulus_bytes(&self) -> usize {
        self.bits.div_ceil(8)
    }
}

/// The shared secret of MD5 signing: 32 letters and digits as issued by Alipay.
#[derive(Clone)]
pub struct Md5Key(Zeroizing<String>);

impl fmt::Debug for Md5Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Md5Key(<redacted>)")
    }
}

impl Md5Key {
    /// Accepts any non-empty key without whitespace or control characters (Alipay issues
    /// 32 letters and digits; other lengths are accepted for other legacy accounts).
    pub fn new(key: &str) -> Result<Md5Key> {
        if key.is_empty() {
            return Err(Error::key(
                "the MD5 key is empty; pass the 32-character key from Alipay's merchant portal",
            ));
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::key(
                "the MD5 key holds whitespace or a control character; Alipay's MD5 keys are 32 letters and digits, so check for a stray space or line break from copying",
            ));
        }
        Ok(Md5Key(Zeroizing::new(key.to_owned())))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// SHA-256 hex of the key, to tell keys apart without showing them.
    pub fn fingerprint(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
