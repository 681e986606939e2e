//! Reading keys from JavaScript: the signing key of `buildOrderStr` and `OrderSigner`, and the
//! keys that check what Alipay sends. Parsed keys are cached by a digest of their bytes (never
//! the bytes); every rule about keys is the core's.

use crate::convert::{byte_view, describe, is_nullish, js_len, secret_string_of, string_of};
use crate::js_error::Outcome;
use crate::orders::OrderSigner;
use alipayhk_pay_core::key_cache::{KeyCache, DEFAULT_CAPACITY};
use alipayhk_pay_core::limits::MAX_KEY_CHARS;
use alipayhk_pay_core::KeyInput;
use alipayhk_pay_core::{
    Error, ErrorCode, Md5Key, RsaPrivateKey, RsaPublicKey, SignType, Signer, VerifyKey,
};
use napi::bindgen_prelude::*;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Key bytes held while parsing: a string's text or a Buffer's bytes.
/// Both are wiped when dropped (`zeroize`), so no copy of a key outlives its parsing.
pub enum KeyBytes {
    Text(Zeroizing<String>),
    Bytes(Zeroizing<Vec<u8>>),
}

impl KeyBytes {
    /// The text of a key given as a string (`""` for bytes).
    pub fn as_str(&self) -> &str {
        match self {
            KeyBytes::Text(s) => s,
            KeyBytes::Bytes(_) => "",
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            KeyBytes::Text(s) => s.as_bytes(),
            KeyBytes::Bytes(b) => b,
        }
    }

    pub fn input(&self) -> KeyInput<'_> {
        match self {
            KeyBytes::Text(s) => KeyInput::Text(s),
            KeyBytes::Bytes(b) => KeyInput::Bytes(b),
        }
    }
}

/// A key given as a string or a Buffer (or a Uint8Array).
pub fn key_bytes_of(value: &Unknown<'_>, field: &str) -> Outcome<KeyBytes> {
    let too_long = |n: usize| -> Outcome<KeyBytes> {
        Err(Error::key(format!(
            "{field} is {n} long; a key is at most {MAX_KEY_CHARS} characters (an 8192-bit PEM is about 6,500)"
        ))
        .in_field(field)
        .into())
    };
    match value.get_type()? {
        ValueType::String if js_len(value)? > MAX_KEY_CHARS => too_long(js_len(value)?),
        ValueType::String => match secret_string_of(value)? {
            Some(s) => Ok(s),
            None => Err(Error::key(format!(
                "{field} holds a lone UTF-16 surrogate; a key is ASCII text"
            ))
            .in_field(field)
            .into()),
        },
        ValueType::Object if byte_view(value)?.is_some() => {
            let bytes = byte_view(value)?.unwrap_or_default();
            if bytes.len() > MAX_KEY_CHARS {
                return too_long(bytes.len());
            }
            Ok(KeyBytes::Bytes(Zeroizing::new(bytes.to_vec())))
        }
        ValueType::Undefined | ValueType::Null => Err(Error::argument(
            field,
            format!("{field} is missing; pass the key as a PEM string, its bare base64 body, or a Buffer"),
        )
        .into()),
        _ => Err(Error::argument(
            field,
            format!(
                "{field} must be a string (PEM or bare base64) or a Buffer (DER or PEM); got {}",
                describe(value)?
            ),
        )
        .into()),
    }
}

/// Private keys already parsed, found by a digest of their bytes (never the bytes).
static SIGNERS: KeyCache<Signer> = KeyCache::new(DEFAULT_CAPACITY);

/// An RSA signer for these key bytes, parsed once and then taken from the cache.
fn cached_rsa_signer(sign_type: SignType, bytes: &KeyBytes) -> Outcome<Arc<Signer>> {
    let digest = KeyCache::<Signer>::digest(sign_type.as_str(), bytes.as_bytes());
    Ok(SIGNERS.get_or_insert_with(digest, || {
        Signer::rsa(sign_type, RsaPrivateKey::parse(bytes.input())?)
    })?)
}

/// Reads `{ signType, privateKey | md5Key }`, a private-key string, or an `OrderSigner`.
pub(crate) fn signer_of(env: &Env, key: &Unknown<'_>) -> Outcome<Arc<Signer>> {
    match key.get_type()? {
        // A bare key string names no sign type, and no default is safe: a merchant whose
        // portal says RSA2 would learn of a SHA-1 default from "sign check fail" on a
        // customer's phone.
        ValueType::String => Err(Error::with_field(
            alipayhk_pay_core::ErrorCode::SignType,
            "key.signType",
            "a private-key string names no sign type; pass { signType: 'RSA2', privateKey } (or 'RSA', whichever your AlipayHK merchant portal is set to), or an OrderSigner",
        )
        .into()),
        ValueType::Object if OrderSigner::instance_of(env, key)? => {
            // `FromNapiRef` only works inside napi-rs's generated argument conversion (it
            // needs a native borrow scope); `ClassInstance` unwraps without one.
            // `instanceof` holds for Object.create(signer) too, which wraps no key.
            let signer: ClassInstance<OrderSigner> =
                unsafe { ClassInstance::from_napi_value(env.raw(), key.raw()) }.map_err(|_| {
                    Error::argument(
                        "key",
                        "key is an object made from an OrderSigner but not an OrderSigner itself; pass the OrderSigner",
                    )
                })?;
            Ok(signer.inner.clone())
        }
        ValueType::Object if !key.is_array()? && !key.is_buffer()? => {
            let object: Object = unsafe { key.cast()? };
            signer_of_object(&object, "key")
        }
        _ => Err(Error::argument(
            "key",
            format!(
                "key must be {{ signType: 'RSA' | 'RSA2', privateKey }}, {{ signType: 'MD5', md5Key }}, a private-key PEM string, or an OrderSigner; got {}",
                describe(key)?
            ),
        )
        .into()),
    }
}

/// `{ signType, privateKey | md5Key }`; `arg` names the object in errors (`key`, `config`).
pub(crate) fn signer_of_object(object: &Object<'_>, arg: &str) -> Outcome<Arc<Signer>> {
    let sign_type: Unknown = crate::convert::own_field(object, "signType")?;
    let private_key: Unknown = crate::convert::own_field(object, "privateKey")?;
    let md5_key: Unknown = crate::convert::own_field(object, "md5Key")?;
    let sign_type = match sign_type.get_type()? {
        // A long text is never echoed: it may be a key put in the wrong field.
        ValueType::String if crate::convert::js_len(&sign_type)? > 13 => {
            return Err(Error::sign_type(format!(
                "{arg}.signType is a {}-character text, not 'RSA', 'RSA2' or 'MD5' (it is not shown: it may be a key in the wrong field)",
                crate::convert::js_len(&sign_type)?
            ))
            .into())
        }
        ValueType::String => SignType::parse(&string_of(&sign_type)?.unwrap_or_default())?,
        ValueType::Undefined | ValueType::Null => {
            return Err(Error::sign_type(format!(
                "{arg}.signType is missing: say 'RSA2' (SHA256withRSA) or 'RSA' (SHA1withRSA) with privateKey, whichever your AlipayHK merchant portal is set to, or 'MD5' with md5Key"
            ))
            .into())
        }
        _ => {
            return Err(Error::argument(
                &format!("{arg}.signType"),
                format!(
                    "{arg}.signType must be 'RSA', 'RSA2' or 'MD5'; got {}",
                    describe(&sign_type)?
                ),
            )
            .into())
        }
    };
    let has_private = !is_nullish(&private_key)?;
    let has_md5 = !is_nullish(&md5_key)?;
    if has_private && has_md5 {
        return Err(Error::argument(
            arg,
            format!("{arg} has both privateKey and md5Key; give the one that matches signType"),
        )
        .into());
    }
    match sign_type {
        SignType::Md5 => {
            if has_private {
                return Err(Error::sign_type(
                    "signType 'MD5' was given with privateKey; MD5 signs with md5Key (the 32-character key from Alipay), or use signType 'RSA' / 'RSA2' with privateKey",
                )
                .into());
            }
            let key = md5_key_of(&md5_key, &format!("{arg}.md5Key"))?;
            Ok(Arc::new(Signer::md5(key)))
        }
        SignType::Rsa | SignType::Rsa2 => {
            if has_md5 {
                return Err(Error::sign_type(format!(
                    "signType '{sign_type}' was given with md5Key; RSA and RSA2 sign with privateKey, or use signType 'MD5' with md5Key"
                ))
                .into());
            }
            let field = format!("{arg}.privateKey");
            let bytes = key_bytes_of(&private_key, &field)?;
            cached_rsa_signer(sign_type, &bytes).map_err(|e| e.in_field(&field))
        }
    }
}

/// Public keys already parsed, found by a digest of their bytes.
static PUBLIC_KEYS: KeyCache<RsaPublicKey> = KeyCache::new(DEFAULT_CAPACITY);

/// `{ alipayPublicKey, acceptSignTypes? }` or `{ md5Key }` (or, for an orderStr, `{ publicKey }`).
/// `alipayPublicKey` may be a list: several of Alipay's keys during a rotation.
pub fn verify_key_of(
    env: &Env,
    key: &Unknown<'_>,
    public_key_name: &str,
    arg: &str,
) -> Outcome<Arc<VerifyKey>> {
    let wrong = || -> Outcome<Arc<VerifyKey>> {
        Err(Error::argument(
            arg,
            format!(
                "{arg} must be {{ {public_key_name}: string | Buffer }} or {{ md5Key: string }}; got {}",
                describe(key)?
            ),
        )
        .into())
    };
    if key.get_type()? != ValueType::Object || key.is_array()? || key.is_buffer()? {
        return wrong();
    }
    let object: Object = unsafe { key.cast()? };
    let public: Unknown = crate::convert::own_field(&object, public_key_name)?;
    let md5: Unknown = crate::convert::own_field(&object, "md5Key")?;
    let accept: Unknown = crate::convert::own_field(&object, "acceptSignTypes")?;
    let key = match (is_nullish(&public)?, is_nullish(&md5)?) {
        (false, false) => {
            return Err(Error::argument(
                arg,
                format!("{arg} has both {public_key_name} and md5Key; give the one that matches the sign_type"),
            )
            .into())
        }
        (false, true) => public_keys_of(&public, &format!("{arg}.{public_key_name}"))?,
        (true, false) => VerifyKey::md5(md5_key_of(&md5, &format!("{arg}.md5Key"))?),
        (true, true) => return wrong(),
    };
    let key = match sign_types_of(env, &accept, &format!("{arg}.acceptSignTypes"))? {
        Some(types) => key.accept(&types, &format!("{arg}.acceptSignTypes"))?,
        None => key,
    };
    Ok(Arc::new(key))
}

/// One public key, or a list of them (a rotation window), each parsed once and cached.
pub fn public_keys_of(value: &Unknown<'_>, field: &str) -> Outcome<VerifyKey> {
    let mut keys = Vec::new();
    if value.is_array()? {
        let list: Object = unsafe { value.cast()? };
        let n = crate::convert::array_len(value)?;
        if n == 0 || n > 8 {
            return Err(Error::argument(
                field,
                format!("{field} is a list of {n} keys; give 1 to 8 (Alipay's current key, and the next one during a rotation)"),
            )
            .into());
        }
        for i in 0..n {
            let item: Unknown = list.get_element(i as u32)?;
            keys.push(public_key_of(&item, &format!("{field}[{i}]"))?);
        }
    } else {
        keys.push(public_key_of(value, field)?);
    }
    Ok(VerifyKey::rsa_keys(keys).map_err(|e| e.in_field(field))?)
}

fn public_key_of(value: &Unknown<'_>, field: &str) -> Outcome<RsaPublicKey> {
    let bytes = key_bytes_of(value, field)?;
    let digest = KeyCache::<RsaPublicKey>::digest("public", bytes.as_bytes());
    let key = PUBLIC_KEYS
        .get_or_insert_with(digest, || RsaPublicKey::parse(bytes.input()))
        .map_err(|e| e.in_field(field))?;
    Ok((*key).clone())
}

/// `acceptSignTypes`: a list of 'RSA', 'RSA2', 'MD5'; `None` when absent.
pub fn sign_types_of(
    env: &Env,
    value: &Unknown<'_>,
    field: &str,
) -> Outcome<Option<Vec<SignType>>> {
    if is_nullish(value)? {
        return Ok(None);
    }
    if !value.is_array()? {
        return Err(Error::argument(
            field,
            format!(
                "{field} must be a list such as ['RSA2'] or ['RSA2', 'RSA']; got {}",
                describe(value)?
            ),
        )
        .into());
    }
    let list: Object = unsafe { value.cast()? };
    let n = crate::convert::array_len(value)?;
    if n > 8 {
        return Err(Error::argument(
            field,
            format!("{field} lists {n} sign types; there are only RSA, RSA2 and MD5"),
        )
        .into());
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let item: Unknown = list.get_element(i as u32)?;
        let text = if item.get_type()? == ValueType::String {
            string_of(&item)?.unwrap_or_default()
        } else {
            String::new()
        };
        out.push(SignType::parse(&text).map_err(|_| {
            Error::with_field(
                ErrorCode::SignType,
                format!("{field}[{i}]"),
                format!("{field}[{i}] must be 'RSA', 'RSA2' or 'MD5'"),
            )
        })?);
    }
    let _ = env;
    Ok(Some(out))
}

pub fn md5_key_of(value: &Unknown<'_>, field: &str) -> Outcome<Md5Key> {
    if value.get_type()? != ValueType::String {
        return Err(Error::argument(
            field,
            format!("{field} must be a string (the 32-character key from Alipay's merchant portal); got {}", describe(value)?),
        )
        .into());
    }
    check_md5_key_len(value, field).map_err(|e| e.in_field(field))?;
    let text = secret_string_of(value)?.ok_or_else(|| {
        Error::key(format!(
            "{field} holds a lone UTF-16 surrogate; an MD5 key is letters and digits"
        ))
        .in_field(field)
    })?;
    Ok(Md5Key::new(text.as_str()).map_err(|e| e.in_field(field))?)
}

/// Refuses an MD5 key string longer than any key before it is copied (Alipay's are 32).
pub fn check_md5_key_len(value: &Unknown<'_>, field: &str) -> Outcome<()> {
    let n = js_len(value)?;
    if n > MAX_KEY_CHARS {
        return Err(Error::key(format!(
            "{field} is {n} characters long; a key is at most {MAX_KEY_CHARS} (Alipay's MD5 keys are 32)"
        ))
        .into());
    }
    Ok(())
}
