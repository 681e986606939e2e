//! Signing: one small interface per backend, and the signer that turns checked parameters
//! into an orderStr (docs/protocol.md §3).

use crate::error::{Error, Result};
use crate::keys::{Md5Key, PrivateImpl, PublicImpl, RsaPrivateKey};
use crate::params::OrderParams;
use crate::sign_type::SignType;
use base64ct::{Base64, Encoding};
use md5::Md5;
use sha2::Digest;

/// The hash under a PKCS#1 v1.5 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha1,
    Sha256,
}

impl HashAlg {
    pub fn for_sign_type(t: SignType) -> Option<HashAlg> {
        match t {
            SignType::Rsa => Some(HashAlg::Sha1),
            SignType::Rsa2 => Some(HashAlg::Sha256),
            SignType::Md5 => None,
        }
    }
}

/// What every RSA signing backend provides. Callers only see this, so another backend
/// can be put behind it without touching them.
pub trait RsaSignBackend: Send + Sync {
    /// RSASSA-PKCS1-v1_5 over `message` with `hash`; the raw signature bytes.
    fn sign_pkcs1v15(&self, hash: HashAlg, message: &[u8]) -> Result<Vec<u8>>;
}

/// Each key signs with the backend it was parsed for (`Backend`).
impl RsaSignBackend for RsaPrivateKey {
    fn sign_pkcs1v15(&self, hash: HashAlg, message: &[u8]) -> Result<Vec<u8>> {
        match self.implementation() {
            PrivateImpl::RustCrypto(key) => rustcrypto_sign(key, hash, message),
            #[cfg(feature = "openssl")]
            PrivateImpl::OpenSsl(key) => openssl_sign(key, hash, message),
        }
    }
}

/// The pure-Rust backend: RustCrypto's `rsa`, with blinding.
fn rustcrypto_sign(key: &rsa::PrivateKey, hash: HashAlg, message: &[u8]) -> Result<Vec<u8>> {
    let result = match hash {
        HashAlg::Sha1 => key.sign(
            rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
            &sha1::Sha1::digest(message),
        ),
        HashAlg::Sha256 => key.sign(
            rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            &sha2::Sha256::digest(message),
        ),
    };
    result.map_err(|_| Error::internal("the RSA signing operation failed"))
}

/// The OpenSSL backend: EVP_DigestSign with PKCS#1 v1.5 padding (OpenSSL blinds RSA and
/// checks its CRT result).
#[cfg(feature = "openssl")]
fn openssl_sign(
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
    hash: HashAlg,
    message: &[u8],
) -> Result<Vec<u8>> {
    let digest = match hash {
        HashAlg::Sha1 => openssl::hash::MessageDigest::sha1(),
        HashAlg::Sha256 => openssl::hash::MessageDigest::sha256(),
    };
    let failed = |_| Error::internal("the RSA signing operation failed");
    let mut signer = openssl::sign::Signer::new(digest, key).map_err(failed)?;
    signer
        .set_rsa_padding(openssl::rsa::Padding::PKCS1)
        .map_err(failed)?;
    signer.sign_oneshot_to_vec(message).map_err(failed)
}

enum Key {
    Rsa(Box<RsaPrivateKey>),
    Md5(Md5Key),
}

/// A parsed key bound to its sign type: everything needed to sign orders.
pub struct Signer {
    sign_type: SignType,
    key: Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            Key::Rsa(k) => write!(f, "Signer({}, {:?})", self.sign_type, k),
            Key::Md5(_) => write!(f, "Signer(MD5, <redacted>)"),
        }
    }
}

/// The result of signing an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedOrder {
    /// The exact string that was signed.
    pub pre_sign: String,
    /// base64 (RSA, RSA2) or lowercase hex (MD5), not URL-encoded.
    pub sign: String,
    /// What `my.tradePay` takes.
    pub order_str: String,
}

impl Signer {
    /// An RSA signer; `sign_type` must be RSA or RSA2.
    pub fn rsa(sign_type: SignType, key: RsaPrivateKey) -> Result<Signer> {
        if !sign_type.is_rsa() {
            return Err(Error::sign_type(format!(
                "sign type {sign_type} was given with an RSA private key; use \"RSA\" (SHA1withRSA) or \"RSA2\" (SHA256withRSA), or give md5Key for MD5"
            )));
        }
        Ok(Signer {
            sign_type,
            key: Key::Rsa(Box::new(key)),
        })
    }

    pub fn md5(key: Md5Key) -> Signer {
        Signer {
            sign_type: SignType::Md5,
            key: Key::Md5(key),
        }
    }

    pub fn sign_type(&self) -> SignType {
        self.sign_type
    }

    /// Modulus size for RSA keys.
    pub fn key_bits(&self) -> Option<usize> {
        match &self.key {
            Key::Rsa(k) => Some(k.bits()),
            Key::Md5(_) => None,
        }
    }

    /// SHA-256 hex of the public key's DER (RSA) or of the MD5 key.
    pub fn fingerprint(&self) -> String {
        match &self.key {
            Key::Rsa(k) => k.fingerprint(),
            Key::Md5(k) => k.fingerprint(),
        }
    }

    /// The MD5 key of an MD5 signer (it also checks what Alipay signs with MD5).
    pub fn md5_key(&self) -> Option<&Md5Key> {
        match &self.key {
            Key::Md5(k) => Some(k),
            Key::Rsa(_) => None,
        }
    }

    /// The merchant's public key as SubjectPublicKeyInfo DER (RSA only).
    pub fn public_key_der(&self) -> Option<&[u8]> {
        match &self.key {
            Key::Rsa(k) => Some(k.public_key_der()),
            Key::Md5(_) => None,
        }
    }

    /// The signature of any text: standard base64 (RSA, RSA2) or lowercase hex (MD5).
    pub fn sign_content(&self, content: &str) -> Result<String> {
        match &self.key {
            Key::Rsa(k) => {
                let hash = HashAlg::for_sign_type(self.sign_type)
                    .ok_or_else(|| Error::internal("RSA key without an RSA sign type"))?;
                Ok(Base64::encode_string(
                    &k.sign_pkcs1v15(hash, content.as_bytes())?,
                ))
            }
            Key::Md5(k) => {
                let mut h = Md5::new();
                h.update(content.as_bytes());
                h.update(k.as_bytes());
                Ok(crate::keys::hex(&h.finalize()))
            }
        }
    }

    /// A `sign_type` among the params must name this signer's type.
    pub fn check_declared_sign_type(&self, params: &OrderParams) -> Result<()> {
        if let Some(declared) = params.declared_sign_type() {
            if declared != self.sign_type {
                return Err(Error::with_field(
                    crate::ErrorCode::SignType,
                    "sign_type",
                    format!(
                        "params say sign_type \"{declared}\" but the key signs as \"{}\"; drop sign_type from params (it is added for you) or use a matching key",
                        self.sign_type
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Signs checked parameters and assembles the orderStr.
    pub fn sign_order(&self, params: &OrderParams) -> Result<SignedOrder> {
        self.check_declared_sign_type(params)?;
        let pre_sign = params.pre_sign();
        let sign = self.sign_content(&pre_sign)?;
        let order_str = order_str(&pre_sign, &sign, self.sign_type);
        Ok(SignedOrder {
            pre_sign,
            sign,
            order_str,
        })
    }
}

/// pre-sign + `&sign="` + encodeURIComponent(sign) + `"&sign_type="` + type + `"`.
pub fn order_str(pre_sign: &str, sign: &str, sign_type: SignType) -> String {
    let mut out = String::with_capacity(pre_sign.len() + sign.len() * 3 / 2 + 32);
    out.push_str(pre_sign);
    if !pre_sign.is_empty() {
        out.push('&');
    }
    out.push_str("sign=\"");
    encode_uri_component_into(sign, &mut out);
    out.push_str("\"&sign_type=\"");
    out.push_str(sign_type.as_str());
    out.push('"');
    out
}

/// JavaScript's `encodeURIComponent`, for ASCII and UTF-8 text alike.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_uri_component_into(s, &mut out);
    out
}

fn encode_uri_component_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

/// Checks an RSASSA-PKCS1-v1_5 signature over `message` (raw signature bytes), with the
/// backend the key was parsed for.
pub fn verify_pkcs1v15(
    key: &crate::keys::RsaPublicKey,
    hash: HashAlg,
    message: &[u8],
    signature: &[u8],
) -> bool {
    match key.implementation() {
        PublicImpl::RustCrypto(k) => rustcrypto_verify(k, hash, message, signature),
        #[cfg(feature = "openssl")]
        PublicImpl::OpenSsl(k) => openssl_verify(k, hash, message, signature),
    }
}

fn rustcrypto_verify(
    key: &rsa::PublicKey,
    hash: HashAlg,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let result = match hash {
        HashAlg::Sha1 => key.verify(
            rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
            &sha1::Sha1::digest(message),
            signature,
        ),
        HashAlg::Sha256 => key.verify(
            rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            &sha2::Sha256::digest(message),
            signature,
        ),
    };
    result.is_ok()
}

/// EVP_DigestVerify with PKCS#1 v1.5 padding. A signature of the wrong length is refused
/// before OpenSSL sees it, as the pure-Rust backend does.
#[cfg(feature = "openssl")]
fn openssl_verify(
    key: &openssl::pkey::PKey<openssl::pkey::Public>,
    hash: HashAlg,
    message: &[u8],
    signature: &[u8],
) -> bool {
    if signature.len() != key.size() {
        return false;
    }
    let digest = match hash {
        HashAlg::Sha1 => openssl::hash::MessageDigest::sha1(),
        HashAlg::Sha256 => openssl::hash::MessageDigest::sha256(),
    };
    let Ok(mut verifier) = openssl::sign::Verifier::new(digest, key) else {
        return false;
    };
    if verifier
        .set_rsa_padding(openssl::rsa::Padding::PKCS1)
        .is_err()
    {
        return false;
    }
    verifier.verify_oneshot(signature, message).unwrap_or(false)
}

/// Fields sorted by name in byte order and joined as `name=value` with `&`, values raw (no
/// quotes, no encoding); empty values left out unless `keep_empty`. The signed content of
/// notifications (docs/protocol.md §4), gateway requests (§8.1) and gateway replies (§8.2).
pub fn sorted_content<'a>(
    fields: impl IntoIterator<Item = &'a (String, String)>,
    keep_empty: bool,
) -> String {
    let mut pairs: Vec<&(String, String)> = fields
        .into_iter()
        .filter(|(_, v)| keep_empty || !v.is_empty())
        .collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}
