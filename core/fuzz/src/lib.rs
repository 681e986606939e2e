//! The properties the fuzz targets check, one function per target. Each takes the raw fuzz
//! input and panics when a property does not hold.
//!
//! `core/tests/fuzz_regressions.rs` includes this very file (`#[path]`), so every kept
//! input replays, under plain `cargo test`, exactly the checks it once failed. It may
//! therefore use nothing but `alipayhk-pay-core` and std.

use alipayhk_pay_core::form::{decode_form, FormError};
use alipayhk_pay_core::notify::{verify_notify_body, verify_notify_params};
use alipayhk_pay_core::order_str::{
    diagnose_order_str, parse_order_str, split_pairs, split_trade_pay_result,
    verify_trade_pay_result,
};
use alipayhk_pay_core::sign::{encode_uri_component, order_str as assemble_order_str};
use alipayhk_pay_core::sign::{verify_pkcs1v15, HashAlg, RsaSignBackend};
use alipayhk_pay_core::{
    Backend, BuildOptions, Error, KeyInput, Md5Key, OrderParams, ParamValue, Reason, RsaPrivateKey,
    RsaPublicKey, SignType, Signer, VerifyKey,
};
use std::sync::OnceLock;

// --- Test keys (core/tests/fixtures; public, for tests only) ----------------------------

pub const RSA1024_PKCS8_PEM: &str = include_str!("../../tests/fixtures/test_rsa1024_pkcs8.pem");
pub const RSA1024_PUB_PEM: &str = include_str!("../../tests/fixtures/test_rsa1024_pub.pem");
pub const MD5_KEY: &str = include_str!("../../tests/fixtures/test_md5_key.txt");

/// The keys the targets sign and check with. The 1024-bit pair plays both the merchant's
/// key (orderStr) and Alipay's (notifications, tradePay results): it is the fastest.
pub struct Keys {
    pub rsa: VerifyKey,
    pub md5: VerifyKey,
    pub both: VerifyKey,
    pub rsa_signer: Signer,
    pub rsa2_signer: Signer,
    pub md5_signer: Signer,
}

pub fn test_keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let public = || RsaPublicKey::parse(KeyInput::Text(RSA1024_PUB_PEM)).unwrap();
        let private = || RsaPrivateKey::parse(KeyInput::Text(RSA1024_PKCS8_PEM)).unwrap();
        let md5 = || Md5Key::new(MD5_KEY.trim()).unwrap();
        Keys {
            rsa: VerifyKey::rsa(public()),
            md5: VerifyKey::md5(md5()),
            both: VerifyKey::rsa(public()).with_md5(md5()),
            rsa_signer: Signer::rsa(SignType::Rsa, private()).unwrap(),
            rsa2_signer: Signer::rsa(SignType::Rsa2, private()).unwrap(),
            md5_signer: Signer::md5(md5()),
        }
    })
}

impl Keys {
    pub fn verify_keys(&self) -> [(&'static str, &VerifyKey); 3] {
        [("rsa", &self.rsa), ("md5", &self.md5), ("both", &self.both)]
    }
}

/// Where `part` (a sub-slice of `whole`) starts in `whole`.
fn offset_in(whole: &str, part: &str) -> usize {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    assert!(
        start + part.len() <= whole.len(),
        "not a sub-slice of the input"
    );
    start
}

/// `text` with an `X` put before the value of the first signed pair of `region` (a
/// sub-slice of `text`): the pair's value changes and nothing else about how the text
/// splits, so the signed bytes change by one byte. `None` when nothing is signed.
fn with_first_signed_value_changed(text: &str, region: &str) -> Option<String> {
    let pairs = split_pairs(region).ok()?;
    let pair = pairs
        .iter()
        .find(|p| p.name != "sign" && p.name != "sign_type")?;
    let at = offset_in(text, pair.value);
    let mut out = String::with_capacity(text.len() + 1);
    out.push_str(&text[..at]);
    out.push('X');
    out.push_str(&text[at..]);
    Some(out)
}

// --- Target 1: orderStr and tradePay results ----------------------------------------------

pub fn order_str(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let k = test_keys();

    let parsed = parse_order_str(text);
    let plain = diagnose_order_str(text, None);
    let malformed = plain.iter().any(|f| f.reason == Reason::Malformed);
    assert_eq!(
        parsed.is_err(),
        malformed,
        "parse_order_str fails exactly when diagnose_order_str says MALFORMED: {plain:?}"
    );
    if let Ok(p) = &parsed {
        assert!(
            p.params
                .iter()
                .all(|(n, _)| n != "sign" && n != "sign_type"),
            "sign / sign_type among the signed params"
        );
        if plain.is_empty() && !p.pre_sign.is_empty() {
            // A string without a single complaint: its pre-sign string reads back the same.
            // (Only `sign` and `sign_type` leave the pre-sign string empty, which
            // parse_order_str refuses as an empty orderStr.)
            let again = parse_order_str(&p.pre_sign)
                .expect("the pre-sign string of a well-formed orderStr parses");
            assert_eq!(
                again.params, p.params,
                "pre-sign string reads back differently"
            );
            assert_eq!(again.pre_sign, p.pre_sign);
        }
    }

    for (name, key) in k.verify_keys() {
        let found = diagnose_order_str(text, Some(key));
        if found.is_empty() {
            assert!(
                plain.is_empty(),
                "clean with the {name} key but not without a key: {plain:?}"
            );
            if let Some(mutated) = with_first_signed_value_changed(text, text) {
                assert!(
                    !diagnose_order_str(&mutated, Some(key)).is_empty(),
                    "a changed signed value still diagnoses clean with the {name} key: {mutated:?}"
                );
            }
        }
    }

    // tradePay results.
    let parts = split_trade_pay_result(text);
    for part in [parts.result_status, parts.memo, Some(parts.result)]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
    {
        offset_in(text, part);
    }
    for (name, key) in k.verify_keys() {
        let v = verify_trade_pay_result(text, key);
        if v.success {
            assert!(v.failure.is_none(), "success with a failure: {v:?}");
        }
        if v.failure.is_none() {
            assert!(!parts.result.is_empty());
            let mutated = with_first_signed_value_changed(text, parts.result);
            if let Some(mutated) = mutated {
                let w = verify_trade_pay_result(&mutated, key);
                assert!(
                    w.failure.is_some() && !w.success,
                    "a changed signed value still verifies with the {name} key: {mutated:?}"
                );
            }
        }
    }
}

// --- Target 2: notification bodies ----------------------------------------------------------

/// Form-encodes as a browser or Alipay would: space as `+`, everything else outside the
/// unreserved set as `%XX`.
pub fn form_encode(s: &str) -> String {
    encode_uri_component(s).replace("%20", "+")
}

pub fn form_body(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", form_encode(n), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn notify(data: &[u8]) {
    let k = test_keys();
    let decoded = decode_form(data);
    match &decoded {
        Ok(pairs) => {
            for (i, (n, _)) in pairs.iter().enumerate() {
                assert!(!n.is_empty(), "an empty name was decoded");
                assert!(
                    !pairs[..i].iter().any(|(m, _)| m == n),
                    "a repeated name was decoded"
                );
            }
            let again = decode_form(form_body(pairs).as_bytes());
            assert_eq!(again.as_ref(), Ok(pairs), "decode(encode(x)) != x");
        }
        Err(FormError::BadPercent { at }) => {
            assert_eq!(data.get(*at), Some(&b'%'), "BadPercent offset {at}")
        }
        Err(FormError::EmptyName { at }) => {
            // `at` is where the pair starts: its `=` (there is no name before it).
            assert_eq!(data.get(*at), Some(&b'='), "EmptyName offset {at}")
        }
        Err(FormError::NotUtf8 { .. } | FormError::Repeated { .. }) => {}
    }

    for (name, key) in k.verify_keys() {
        let v = verify_notify_body(data, key);
        let Ok(pairs) = &decoded else {
            assert_eq!(
                v.failure.as_ref().map(|f| f.reason),
                Some(Reason::Malformed),
                "an undecodable body is MALFORMED"
            );
            continue;
        };
        assert_eq!(
            v,
            verify_notify_params(pairs.clone(), key),
            "body and decoded fields verify differently"
        );
        if !v.ok() {
            continue;
        }
        let signed = pairs
            .iter()
            .position(|(n, val)| n != "sign" && n != "sign_type" && !val.is_empty());
        if let Some(i) = signed {
            let mut changed = pairs.clone();
            changed[i].1.push('X');
            assert!(
                !verify_notify_params(changed, key).ok(),
                "a changed field still verifies with the {name} key"
            );
            let mut dropped = pairs.clone();
            dropped.remove(i);
            assert!(
                !verify_notify_params(dropped, key).ok(),
                "a dropped field still verifies with the {name} key"
            );
        }
        let mut unsigned = pairs.clone();
        unsigned.retain(|(n, _)| n != "sign");
        assert!(
            !verify_notify_params(unsigned, key).ok(),
            "verifies without sign"
        );
    }
}

// --- Target 3: key loading --------------------------------------------------------------------

fn first_non_ascii_whitespace(data: &[u8]) -> Option<u8> {
    data.iter().copied().find(|c| !c.is_ascii_whitespace())
}

/// An accepted private key is a usable one: its public half parses and checks what it signs.
fn check_private(result: &Result<RsaPrivateKey, Error>) {
    let Ok(key) = result else {
        return;
    };
    assert!((1024..=8192).contains(&key.bits()));
    let public = RsaPublicKey::parse(KeyInput::Bytes(key.public_key_der()))
        .expect("the public half of an accepted private key parses");
    assert_eq!(public.der(), key.public_key_der());
    assert_eq!(public.bits(), key.bits());
    let message = b"service=\"mobile.securitypay.pay\"";
    let sig = key.sign_pkcs1v15(HashAlg::Sha256, message).unwrap();
    assert!(verify_pkcs1v15(&public, HashAlg::Sha256, message, &sig));
    assert!(!verify_pkcs1v15(
        &public,
        HashAlg::Sha256,
        b"service=\"mobile.securitypay.paY\"",
        &sig
    ));
}

/// Both backends accept the same keys, for the same public key, and sign alike
/// (PKCS#1 v1.5 is deterministic).
#[cfg(feature = "openssl")]
fn check_backends_agree(
    openssl: &Result<RsaPrivateKey, Error>,
    rustcrypto: &Result<RsaPrivateKey, Error>,
) {
    match (openssl, rustcrypto) {
        (Ok(o), Ok(r)) => {
            assert_eq!(o.backend(), Backend::OpenSsl);
            assert_eq!(r.backend(), Backend::RustCrypto);
            assert_eq!(o.bits(), r.bits());
            assert_eq!(o.public_key_der(), r.public_key_der());
            let message = b"partner=\"2088101568358171\"";
            assert_eq!(
                o.sign_pkcs1v15(HashAlg::Sha1, message).unwrap(),
                r.sign_pkcs1v15(HashAlg::Sha1, message).unwrap(),
                "the backends sign differently"
            );
        }
        (Err(o), Err(r)) => assert_eq!(o.code, r.code, "{o} / {r}"),
        (o, r) => panic!(
            "the backends disagree: openssl {:?}, rustcrypto {:?}",
            o.as_ref().map(|k| k.bits()),
            r.as_ref().map(|k| k.bits())
        ),
    }
}

/// Parses a private key for the pure-Rust backend and, when it is compiled in, for
/// OpenSSL, and checks what came out.
fn parse_private(input: KeyInput<'_>) -> Result<RsaPrivateKey, Error> {
    let rustcrypto = RsaPrivateKey::parse_with(input, Backend::RustCrypto);
    check_private(&rustcrypto);
    #[cfg(feature = "openssl")]
    {
        let openssl = RsaPrivateKey::parse_with(input, Backend::OpenSsl);
        check_private(&openssl);
        check_backends_agree(&openssl, &rustcrypto);
    }
    rustcrypto
}

fn check_public(result: &Result<RsaPublicKey, Error>) {
    if let Ok(k) = result {
        assert!((1024..=8192).contains(&k.bits()));
        let again = RsaPublicKey::parse(KeyInput::Bytes(k.der())).expect("its own DER parses");
        assert_eq!(again.der(), k.der());
        assert_eq!(again.fingerprint(), k.fingerprint());
    }
}

fn same_outcome<T>(a: &Result<T, Error>, b: &Result<T, Error>) -> bool {
    match (a, b) {
        (Ok(_), Ok(_)) => true,
        (Err(x), Err(y)) => x == y,
        _ => false,
    }
}

pub fn keys(data: &[u8]) {
    let private_bytes = parse_private(KeyInput::Bytes(data));
    let public_bytes = RsaPublicKey::parse(KeyInput::Bytes(data));
    check_public(&public_bytes);

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let private_text = parse_private(KeyInput::Text(text));
    let public_text = RsaPublicKey::parse(KeyInput::Text(text));
    check_public(&public_text);
    // Bytes that are text read as that text, unless they look like DER (start with 0x30).
    if first_non_ascii_whitespace(data) != Some(0x30) {
        assert!(
            same_outcome(&private_text, &private_bytes),
            "text and bytes read differently"
        );
        assert!(
            same_outcome(&public_text, &public_bytes),
            "text and bytes read differently"
        );
    }

    let md5 = Md5Key::new(text);
    let acceptable = !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    assert_eq!(md5.is_ok(), acceptable);
    if let Ok(m) = md5 {
        assert_eq!(m.fingerprint().len(), 64);
        assert_eq!(format!("{m:?}"), "Md5Key(<redacted>)");
    }
}

// --- Target 4: building from parameter lists ------------------------------------------------

/// Parameter-list inputs: one flags byte, then records separated by 0xFF; a record is a
/// tag byte, the name, 0xFE, the value (0xFE and 0xFF never occur in UTF-8; the text is
/// read lossily). Tags: `N` number, `A` absent, `S` lone surrogate, `U` unsupported type,
/// anything else text. Flags: bit 0 sort_keys, bit 1 strict, bits 2-3 the signer
/// (0 MD5, 1 RSA, 2 RSA2, 3 MD5).
pub fn decode_param_list(data: &[u8]) -> Option<(u8, Vec<(String, ParamValue)>)> {
    let (&flags, rest) = data.split_first()?;
    let mut list = Vec::new();
    for record in rest.split(|b| *b == 0xFF) {
        let Some((&tag, record)) = record.split_first() else {
            continue;
        };
        let (name, value) = match record.iter().position(|b| *b == 0xFE) {
            Some(i) => (&record[..i], &record[i + 1..]),
            None => (record, &record[record.len()..]),
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let value = String::from_utf8_lossy(value).into_owned();
        let value = match tag {
            b'N' => ParamValue::Number(value),
            b'A' => ParamValue::Absent,
            b'S' => ParamValue::LoneSurrogate,
            b'U' => ParamValue::Unsupported("an object"),
            _ => ParamValue::Text(value),
        };
        list.push((name, value));
    }
    Some((flags, list))
}

/// The inverse of `decode_param_list`, for seeds and tests.
pub fn encode_param_list(flags: u8, list: &[(u8, &str, &str)]) -> Vec<u8> {
    let mut out = vec![flags];
    for (i, (tag, name, value)) in list.iter().enumerate() {
        if i > 0 {
            out.push(0xFF);
        }
        out.push(*tag);
        out.extend_from_slice(name.as_bytes());
        out.push(0xFE);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

pub fn build_params(data: &[u8]) {
    let Some((flags, list)) = decode_param_list(data) else {
        return;
    };
    let options = BuildOptions {
        sort_keys: flags & 1 != 0,
        strict: flags & 2 != 0,
    };
    let Ok(params) = OrderParams::new(list.clone(), &options) else {
        return;
    };

    // Everything built came from the list, once.
    for (i, (name, value)) in params.params().iter().enumerate() {
        assert!(!params.params()[..i].iter().any(|(n, _)| n == name));
        assert!(!value.is_empty());
        assert!(
            list.iter().any(|(n, v)| {
                (n == name || (n == "method" && name == "service"))
                    && matches!(v, ParamValue::Text(t) | ParamValue::Number(t) if t == value)
            }),
            "{name}={value:?} was not in the input"
        );
    }
    if options.sort_keys {
        assert!(params
            .params()
            .windows(2)
            .all(|w| w[0].0.as_bytes() < w[1].0.as_bytes()));
    }

    // The pre-sign string reads back to the same parameters. (An empty list, possible with
    // strict: false, gives the empty pre-sign string, which parse_order_str refuses as an
    // empty orderStr; its signed orderStr is checked below like any other.)
    let pre_sign = params.pre_sign();
    assert_eq!(pre_sign.is_empty(), params.params().is_empty());
    if !pre_sign.is_empty() {
        let parsed = parse_order_str(&pre_sign).expect("a built pre-sign string parses");
        assert_eq!(
            parsed.params,
            params.params(),
            "the pre-sign string reads back differently"
        );
        assert_eq!(parsed.pre_sign, pre_sign);
        assert!(parsed.sign.is_empty() && parsed.sign_type.is_empty());
    }

    // Signed, the orderStr reads back, diagnoses clean, and a changed value does not verify.
    let k = test_keys();
    let (signer, key) = match (flags >> 2) & 3 {
        1 => (&k.rsa_signer, &k.rsa),
        2 => (&k.rsa2_signer, &k.rsa),
        _ => (&k.md5_signer, &k.md5),
    };
    let signed = match signer.sign_order(&params) {
        Ok(s) => s,
        Err(e) => {
            assert!(
                params
                    .declared_sign_type()
                    .is_some_and(|t| t != signer.sign_type()),
                "signing failed: {e}"
            );
            return;
        }
    };
    assert_eq!(signed.pre_sign, pre_sign);
    let back = parse_order_str(&signed.order_str).expect("a signed orderStr parses");
    assert_eq!(back.params, params.params());
    assert_eq!(back.pre_sign, pre_sign);
    assert_eq!(back.sign, signed.sign);
    assert_eq!(back.sign_type, signer.sign_type().as_str());
    assert_eq!(diagnose_order_str(&signed.order_str, None), vec![]);
    assert_eq!(diagnose_order_str(&signed.order_str, Some(key)), vec![]);
    assert_eq!(diagnose_order_str(&signed.order_str, Some(&k.both)), vec![]);

    if let Some((first, rest)) = params.params().split_first() {
        let changed = format!("{}X", first.1);
        let pairs = std::iter::once((first.0.as_str(), changed.as_str()))
            .chain(rest.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let changed_pre_sign = alipayhk_pay_core::params::pre_sign_string(pairs);
        let forged = assemble_order_str(&changed_pre_sign, &signed.sign, signer.sign_type());
        let found = diagnose_order_str(&forged, Some(key));
        assert!(
            found.iter().any(|f| f.reason == Reason::BadSignature),
            "a changed value is not a bad signature: {found:?}"
        );
    }
}
