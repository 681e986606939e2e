//! The signature of a gateway reply (protocol §8.2).
//!
//! It covers only the fields of `<response>` (for `single_trade_query`, the children of
//! `<trade>`): `name=value` sorted by name in byte order, joined with `&`, values as text
//! (after XML unescaping, masked values as they are), checked with Alipay's public key
//! (RSA: SHA1withRSA, RSA2: SHA256withRSA) or as MD5 of the string followed by the MD5 key.
//! `is_success`, the request echo and the whitespace between elements are not covered.
//!
//! Fields with an empty value are left out of the string, as in every other Alipay signing
//! rule (protocol §4, §8.1); a signature over the string that keeps them as `name=` is
//! accepted too, since protocol §8.2 does not say. Either way an empty field reads as absent
//! in the typed results, so adding one changes nothing a caller sees. The bytes checked are
//! the UTF-8 bytes of the string: requests say `_input_charset=utf-8`, and that is the
//! charset Alipay signs in.

use super::reply::Reply;
use crate::sign_type::SignType;
use crate::verify::{check_signature, sign_type_for, Failure, Reason, VerifyKey};

/// The string a reply's signature covers: the `<response>` fields without empty values,
/// sorted by name, `name=value` joined with `&`.
pub fn reply_sign_content(fields: &[(String, String)]) -> String {
    join_sorted(fields, false)
}

fn join_sorted(fields: &[(String, String)], keep_empty: bool) -> String {
    crate::sign::sorted_content(fields, keep_empty)
}

/// Checks the signature of a reply that has a `<response>`; the sign type it was made with.
/// A reply without `<response>` has nothing signed: that is the caller's case, and here a
/// `MISSING_SIGN` failure.
pub fn check_reply_signature(reply: &Reply, key: &VerifyKey) -> Result<SignType, Failure> {
    let Some(response) = &reply.response else {
        return Err(Failure::new(
            Reason::MissingSign,
            "the reply has no <response>, so nothing in it is signed",
        ));
    };
    let sign: String = reply
        .sign
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if sign.is_empty() {
        return Err(Failure::new(
            Reason::MissingSign,
            "the reply has a <response> but no <sign>: its fields cannot be trusted",
        ));
    }
    let declared = reply
        .sign_type
        .as_deref()
        .map(|s| s.trim_matches([' ', '\t', '\r', '\n']))
        .filter(|s| !s.is_empty());
    let sign_type = sign_type_for(declared, key)?;
    let content = join_sorted(&response.fields, false);
    if check_signature(content.as_bytes(), &sign, sign_type, key) {
        return Ok(sign_type);
    }
    if response.fields.iter().any(|(_, v)| v.is_empty()) {
        let with_empty = join_sorted(&response.fields, true);
        if check_signature(with_empty.as_bytes(), &sign, sign_type, key) {
            return Ok(sign_type);
        }
    }
    Err(Failure::new(
        Reason::BadSignature,
        format!(
            "the reply's {sign_type} signature does not match the fields of <response> and the key: the reply was changed, or the key is not Alipay's ({}) — your own public key cannot check Alipay's replies",
            if sign_type == SignType::Md5 {
                "the MD5 key of this partner"
            } else {
                "Alipay's RSA public key for this partner"
            }
        ),
    ))
}
