//! What every verification shares: the key that checks, the stable reasons a check fails
//! for, and the signature check itself.

use crate::keys::{Md5Key, RsaPublicKey};
use crate::sign::{verify_pkcs1v15, HashAlg};
use crate::sign_type::SignType;
use base64ct::{Base64, Encoding};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// The key a signature is checked with: an RSA public key (Alipay's for notifications and
/// results; the merchant's own for an orderStr) or the shared MD5 key.
#[derive(Debug)]
pub enum VerifyKey {
    Rsa(RsaPublicKey),
    Md5(Md5Key),
    /// An account that signs with MD5 and also holds Alipay's RSA public key: each
    /// message is checked with the key its `sign_type` names.
    Both(RsaPublicKey, Md5Key),
}

impl VerifyKey {
    /// The sign types this key can check.
    pub fn checks(&self) -> &'static [SignType] {
        match self {
            VerifyKey::Rsa(_) => &[SignType::Rsa, SignType::Rsa2],
            VerifyKey::Md5(_) => &[SignType::Md5],
            VerifyKey::Both(..) => &[SignType::Rsa, SignType::Rsa2, SignType::Md5],
        }
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
        }
    }

    pub const ALL: [Reason; 10] = [
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

/// Parses a `sign_type` value and checks that `key` can check it.
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
    match (t, key) {
        (SignType::Md5, VerifyKey::Rsa(_)) => Err(Failure::new(
            Reason::UnsupportedSignType,
            "sign_type is MD5 but an RSA public key was given; MD5 is checked with the MD5 key",
        )),
        (SignType::Rsa | SignType::Rsa2, VerifyKey::Md5(_)) => Err(Failure::new(
            Reason::UnsupportedSignType,
            format!("sign_type is {t} but only an MD5 key was given; {t} is checked with Alipay's RSA public key"),
        )),
        _ => Ok(t),
    }
}

/// Checks `sign` (base64 for RSA, hex for MD5) over `content`.
pub(crate) fn check_signature(
    content: &[u8],
    sign: &str,
    sign_type: SignType,
    key: &VerifyKey,
) -> bool {
    match (sign_type, key) {
        (SignType::Md5, VerifyKey::Md5(k) | VerifyKey::Both(_, k)) => {
            let mut h = Md5::new();
            h.update(content);
            h.update(k.as_bytes());
            let expected = crate::keys::hex(&h.finalize());
            let given = sign.to_ascii_lowercase();
            expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
        }
        (SignType::Rsa | SignType::Rsa2, VerifyKey::Rsa(k) | VerifyKey::Both(k, _)) => {
            let Ok(raw) = Base64::decode_vec(sign) else {
                return false;
            };
            let hash = if sign_type == SignType::Rsa {
                HashAlg::Sha1
            } else {
                HashAlg::Sha256
            };
            verify_pkcs1v15(k, hash, content, &raw)
        }
        _ => false,
    }
}

/// Base64 has no spaces: one in `sign` is a `+` that a form decoder turned into a space.
pub(crate) fn restore_plus(sign: &str) -> String {
    sign.replace(' ', "+")
}
