//! What every verification shares: the key that checks, the stable reasons a check fails
//! for, and the signature check itself.

use crate::error::{Error, ErrorCode};
use crate::keys::{Md5Key, RsaPublicKey};
use crate::sign::{verify_pkcs1v15, HashAlg};
use crate::sign_type::SignType;
use base64ct::{Base64, Encoding};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// The keys a signature is checked with, and the sign types accepted.
///
/// For what Alipay sends: one or more of Alipay's RSA public keys (several during a key
/// rotation; the first that verifies wins and is reported by fingerprint) and/or the shared
/// MD5 key. For an orderStr: the merchant's own public key. `accepted` pins the sign types a
/// message may claim: a notification labelled `RSA` (SHA-1) is refused by a key pinned to
/// `RSA2`, whatever the signature (docs/protocol.md §4).
pub struct VerifyKey {
    rsa: Vec<RsaPublicKey>,
    md5: Option<Md5Key>,
    accepted: Vec<SignType>,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("rsa", &self.rsa)
            .field("md5", &self.md5)
            .field("accepted", &self.accepted)
            .finish()
    }
}

impl VerifyKey {
    /// One RSA public key, accepting `RSA` and `RSA2`.
    pub fn rsa(key: RsaPublicKey) -> VerifyKey {
        VerifyKey {
            rsa: vec![key],
            md5: None,
            accepted: vec![SignType::Rsa2, SignType::Rsa],
        }
    }

    /// Several RSA public keys (a rotation window), accepting `RSA` and `RSA2`. The same key
    /// given twice is kept once.
    pub fn rsa_keys(keys: Vec<RsaPublicKey>) -> Result<VerifyKey, Error> {
        let mut unique: Vec<RsaPublicKey> = Vec::with_capacity(keys.len());
        for k in keys {
            if !unique.iter().any(|u| u.der() == k.der()) {
                unique.push(k);
            }
        }
        if unique.is_empty() {
            return Err(Error::key(
                "no public key was given; pass Alipay's public key from the merchant portal",
            ));
        }
        Ok(VerifyKey {
            rsa: unique,
            md5: None,
            accepted: vec![SignType::Rsa2, SignType::Rsa],
        })
    }

    /// The MD5 key alone, accepting `MD5`.
    pub fn md5(key: Md5Key) -> VerifyKey {
        VerifyKey {
            rsa: Vec::new(),
            md5: Some(key),
            accepted: vec![SignType::Md5],
        }
    }

    /// These RSA keys and the MD5 key: every sign type is accepted until [`VerifyKey::accept`]
    /// narrows it.
    pub fn with_md5(mut self, key: Md5Key) -> VerifyKey {
        self.md5 = Some(key);
        if !self.accepted.contains(&SignType::Md5) {
            self.accepted.push(SignType::Md5);
        }
        self
    }

    /// Pins the sign types a message may claim. Each must be one these keys can check
    /// (`MD5` needs the MD5 key, `RSA`/`RSA2` an RSA public key), and the list may not be
    /// empty. `field` names the setting in errors.
    pub fn accept(mut self, types: &[SignType], field: &str) -> Result<VerifyKey, Error> {
        if types.is_empty() {
            return Err(Error::with_field(
                ErrorCode::SignType,
                field,
                format!("{field} is empty; name the sign types to accept, e.g. [\"RSA2\"]"),
            ));
        }
        for t in types {
            let held = match t {
                SignType::Md5 => self.md5.is_some(),
                SignType::Rsa | SignType::Rsa2 => !self.rsa.is_empty(),
            };
            if !held {
                return Err(Error::with_field(
                    ErrorCode::SignType,
                    field,
                    format!(
                        "{field} names {t}, but no key for it was given ({t} is checked with {})",
                        if *t == SignType::Md5 {
                            "the MD5 key"
                        } else {
                            "Alipay's RSA public key"
                        }
                    ),
                ));
            }
        }
        let mut accepted = Vec::with_capacity(types.len());
        for t in types {
            if !accepted.contains(t) {
                accepted.push(*t);
            }
        }
        self.accepted = accepted;
        Ok(self)
    }

    /// The sign types a message may claim, in the order given.
    pub fn accepted(&self) -> &[SignType] {
        &self.accepted
    }

    /// The sign types these keys can check, whether accepted or not.
    pub fn checks(&self) -> Vec<SignType> {
        let mut out = Vec::new();
        if !self.rsa.is_empty() {
            out.extend([SignType::Rsa, SignType::Rsa2]);
        }
        if self.md5.is_some() {
            out.push(SignType::Md5);
        }
        out
    }

    /// The RSA public keys, in the order given.
    pub fn rsa_public_keys(&self) -> &[RsaPublicKey] {
        &self.rsa
    }

    /// The fingerprints of every key held (RSA keys first, in order; then the MD5 key's).
    pub fn fingerprints(&self) -> Vec<String> {
        let mut out: Vec<String> = self.rsa.iter().map(|k| k.fingerprint()).collect();
        if let Some(k) = &self.md5 {
            out.push(k.fingerprint());
        }
        out
    }

    /// Refuses a key that is the public half of the merchant's own private key: notifications
    /// and results are signed by Alipay, so the merchant's key can never verify them (the
    /// most common cause of failed verification). `field` names the setting in the error.
    pub fn refuse_own_key(&self, own_public_der: Option<&[u8]>, field: &str) -> Result<(), Error> {
        let Some(own) = own_public_der else {
            return Ok(());
        };
        if self.rsa.iter().any(|k| k.der() == own) {
            return Err(Error::with_field(
                ErrorCode::InvalidKey,
                field,
                format!("{field} is your own public key (the public half of privateKey). Notifications and results are signed by Alipay: use Alipay's public key from the merchant portal, not the one you uploaded"),
            ));
        }
        Ok(())
    }
}

/// Why a check failed. The names are stable: callers and logs may match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The signature does not match the content and key.
    BadSignature,
    /// There is no `sign`.
    MissingSign,
    /// `sign_type` is absent, unknown, or one this key cannot check.
    UnsupportedSignType,
    /// The text is not well-formed (broken percent-encoding, a name given twice, not UTF-8, …).
    Malformed,
    /// orderStr: the signature was not passed through encodeURIComponent.
    SignNotUrlEncoded,
    /// orderStr: `sign_type` names another type than the signature is.
    SignTypeMismatch,
    /// orderStr: `method` where the gateway wants `service`.
    MethodInsteadOfService,
    /// orderStr: a parameter appears twice (the sample's `payment_type`).
    DuplicateParam,
    /// orderStr: characters after a closing quote (the sample's `sign="…"=`).
    TextOutsideQuotes,
    /// orderStr: a value without the double quotes around it.
    UnquotedValue,
    /// `sign_type` is one the keys could check but the account does not accept (a
    /// notification labelled `RSA` to an account pinned to `RSA2`).
    SignTypeNotAccepted,
}

impl Reason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::BadSignature => "BAD_SIGNATURE",
            Reason::MissingSign => "MISSING_SIGN",
            Reason::UnsupportedSignType => "UNSUPPORTED_SIGN_TYPE",
            Reason::Malformed => "MALFORMED",
            Reason::SignNotUrlEncoded => "SIGN_NOT_URL_ENCODED",
            Reason::SignTypeMismatch => "SIGN_TYPE_MISMATCH",
            Reason::MethodInsteadOfService => "METHOD_INSTEAD_OF_SERVICE",
            Reason::DuplicateParam => "DUPLICATE_PARAM",
            Reason::TextOutsideQuotes => "TEXT_OUTSIDE_QUOTES",
            Reason::UnquotedValue => "UNQUOTED_VALUE",
            Reason::SignTypeNotAccepted => "SIGN_TYPE_NOT_ACCEPTED",
        }
    }

    /// The reason named by `as_str`'s text.
    pub fn parse(text: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.as_str() == text)
    }

    pub const ALL: [Reason; 11] = [
        Reason::BadSignature,
        Reason::MissingSign,
        Reason::UnsupportedSignType,
        Reason::Malformed,
        Reason::SignNotUrlEncoded,
        Reason::SignTypeMismatch,
        Reason::MethodInsteadOfService,
        Reason::DuplicateParam,
        Reason::TextOutsideQuotes,
        Reason::UnquotedValue,
        Reason::SignTypeNotAccepted,
    ];
}

/// A failed check: the stable reason and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: Reason,
    pub message: String,
}

impl Failure {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Failure {
            reason,
            message: message.into(),
        }
    }
}

/// Parses a `sign_type` value and checks that `key` can check it and accepts it.
pub(crate) fn sign_type_for(declared: Option<&str>, key: &VerifyKey) -> Result<SignType, Failure> {
    let Some(declared) = declared else {
        return Err(Failure::new(
            Reason::UnsupportedSignType,
            "sign_type is absent, so there is no telling which check applies",
        ));
    };
    let t = SignType::parse(declared).map_err(|_| {
        Failure::new(
            Reason::UnsupportedSignType,
            format!(
                "sign_type {:?} is not RSA, RSA2 or MD5",
                declared.chars().take(20).collect::<String>()
            ),
        )
    })?;
    let checks = key.checks();
    if !checks.contains(&t) {
        return Err(if t == SignType::Md5 {
            Failure::new(
                Reason::UnsupportedSignType,
                "sign_type is MD5 but an RSA public key was given; MD5 is checked with the MD5 key",
            )
        } else {
            Failure::new(
                Reason::UnsupportedSignType,
                format!("sign_type is {t} but only an MD5 key was given; {t} is checked with Alipay's RSA public key"),
            )
        });
    }
    if !key.accepted.contains(&t) {
        let list: Vec<&str> = key.accepted.iter().map(|a| a.as_str()).collect();
        return Err(Failure::new(
            Reason::SignTypeNotAccepted,
            format!(
                "sign_type is {t} but only {} is accepted; if the account is moving between sign types, accept both for the migration (acceptSignTypes)",
                list.join(" or ")
            ),
        ));
    }
    Ok(t)
}

/// Checks `sign` (base64 for RSA, hex for MD5) over `content`.
pub(crate) fn check_signature(
    content: &[u8],
    sign: &str,
    sign_type: SignType,
    key: &VerifyKey,
) -> bool {
    signing_key(content, sign, sign_type, key).is_some()
}

/// Which key verified `sign` over `content`: its fingerprint, or `None` when none did.
/// Every RSA key is tried in order (a key rotation window holds two).
pub(crate) fn signing_key(
    content: &[u8],
    sign: &str,
    sign_type: SignType,
    key: &VerifyKey,
) -> Option<String> {
    match sign_type {
        SignType::Md5 => {
            let k = key.md5.as_ref()?;
            let mut h = Md5::new();
            h.update(content);
            h.update(k.as_bytes());
            let expected = crate::keys::hex(&h.finalize());
            let given = sign.to_ascii_lowercase();
            (expected.len() == given.len()
                && bool::from(expected.as_bytes().ct_eq(given.as_bytes())))
            .then(|| k.fingerprint())
        }
        SignType::Rsa | SignType::Rsa2 => {
            if key.rsa.is_empty() {
                return None;
            }
            let raw = Base64::decode_vec(sign).ok()?;
            let hash = if sign_type == SignType::Rsa {
                HashAlg::Sha1
            } else {
                HashAlg::Sha256
            };
            key.rsa
                .iter()
                .find(|k| verify_pkcs1v15(k, hash, content, &raw))
                .map(|k| k.fingerprint())
        }
    }
}

/// Base64 has no spaces: one in `sign` is a `+` that a form decoder turned into a space.
pub(crate) fn restore_plus(sign: &str) -> String {
    sign.replace(' ', "+")
}
