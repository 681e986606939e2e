//! docs/protocol.md §3: RSA (SHA1withRSA), RSA2 (SHA256withRSA) and MD5 signatures, compared
//! byte for byte with what openssl and md5sum computed (fixtures/make-fixtures.sh), and the
//! orderStr that carries them.

use crate::common;

use alipayhk_pay_core::sign::{encode_uri_component, verify_pkcs1v15};
use alipayhk_pay_core::{
    ErrorCode, HashAlg, KeyInput, Md5Key, OrderParams, ParamValue, RsaPrivateKey, SignType, Signer,
};
use common::*;

const MESSAGES: [&str; 3] = ["en", "hant", "hans"];

fn rsa_signer(sign_type: SignType, pem: &str) -> Signer {
    Signer::rsa(sign_type, private_key(pem)).unwrap()
}

fn md5_signer() -> Signer {
    Signer::md5(Md5Key::new(MD5_KEY).unwrap())
}

/// The sign part of an orderStr as encodeURIComponent writes a base64 signature.
fn uri_encoded_base64(b64: &str) -> String {
    b64.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

// --- RSA and RSA2 against openssl ------------------------------------------------------------

#[test]
fn rsa_is_sha1_with_rsa_equal_to_openssl_for_1024_bit_keys() {
    let signer = rsa_signer(SignType::Rsa, RSA1024_PKCS8_PEM);
    for msg in MESSAGES {
        let sign = signer.sign_content(message(msg)).unwrap();
        assert_eq!(sign, expected_signature(msg, 1024, "sha1"), "message {msg}");
        assert_eq!(
            sign.len(),
            172,
            "a 1024-bit signature is 172 base64 characters"
        );
    }
}

#[test]
fn rsa_is_sha1_with_rsa_equal_to_openssl_for_2048_bit_keys() {
    let signer = rsa_signer(SignType::Rsa, RSA2048_PKCS8_PEM);
    for msg in MESSAGES {
        let sign = signer.sign_content(message(msg)).unwrap();
        assert_eq!(sign, expected_signature(msg, 2048, "sha1"), "message {msg}");
        assert_eq!(sign.len(), 344);
    }
}

#[test]
fn rsa2_is_sha256_with_rsa_equal_to_openssl_for_1024_bit_keys() {
    let signer = rsa_signer(SignType::Rsa2, RSA1024_PKCS8_PEM);
    for msg in MESSAGES {
        let sign = signer.sign_content(message(msg)).unwrap();
        assert_eq!(
            sign,
            expected_signature(msg, 1024, "sha256"),
            "message {msg}"
        );
    }
}

#[test]
fn rsa2_is_sha256_with_rsa_equal_to_openssl_for_2048_bit_keys() {
    let signer = rsa_signer(SignType::Rsa2, RSA2048_PKCS8_PEM);
    for msg in MESSAGES {
        let sign = signer.sign_content(message(msg)).unwrap();
        assert_eq!(
            sign,
            expected_signature(msg, 2048, "sha256"),
            "message {msg}"
        );
    }
}

#[test]
fn chinese_text_is_signed_as_its_utf8_bytes() {
    // The traditional and simplified messages differ in one character (稱 / 称); both match
    // openssl, which signed the UTF-8 files, and their signatures differ.
    assert!(MSG_SAMPLE_HANT.contains("商品名稱") && MSG_SAMPLE_HANS.contains("商品名称"));
    let signer = rsa_signer(SignType::Rsa, RSA1024_PKCS8_PEM);
    let hant = signer.sign_content(MSG_SAMPLE_HANT).unwrap();
    let hans = signer.sign_content(MSG_SAMPLE_HANS).unwrap();
    assert_eq!(hant, expected_signature("hant", 1024, "sha1"));
    assert_eq!(hans, expected_signature("hans", 1024, "sha1"));
    assert_ne!(hant, hans);
}

#[test]
fn every_key_format_gives_the_same_signature() {
    type Case = (u32, &'static str, &'static str, &'static [u8], &'static str);
    let cases: [Case; 2] = [
        (
            1024,
            RSA1024_PKCS8_PEM,
            RSA1024_PKCS1_PEM,
            RSA1024_DER,
            RSA1024_BODY,
        ),
        (
            2048,
            RSA2048_PKCS8_PEM,
            RSA2048_PKCS1_PEM,
            RSA2048_DER,
            RSA2048_BODY,
        ),
    ];
    for (bits, pkcs8, pkcs1, der, body) in cases {
        let inputs = [
            ("PKCS#8 PEM", KeyInput::Text(pkcs8)),
            ("PKCS#1 PEM", KeyInput::Text(pkcs1)),
            ("DER bytes", KeyInput::Bytes(der)),
            ("bare base64 with whitespace", KeyInput::Text(body)),
            ("PKCS#8 PEM as bytes", KeyInput::Bytes(pkcs8.as_bytes())),
            ("PKCS#1 PEM as bytes", KeyInput::Bytes(pkcs1.as_bytes())),
        ];
        for (what, input) in inputs {
            for (sign_type, alg) in [(SignType::Rsa, "sha1"), (SignType::Rsa2, "sha256")] {
                let key = RsaPrivateKey::parse(input).unwrap_or_else(|e| panic!("{what}: {e:?}"));
                let signer = Signer::rsa(sign_type, key).unwrap();
                let sign = signer.sign_content(MSG_SAMPLE_HANT).unwrap();
                assert_eq!(
                    sign,
                    expected_signature("hant", bits, alg),
                    "{bits}-bit {what} {sign_type}"
                );
            }
        }
    }
}

#[test]
fn signing_is_deterministic() {
    let signer = rsa_signer(SignType::Rsa2, RSA2048_PKCS1_PEM);
    let a = signer.sign_content(MSG_SAMPLE_EN).unwrap();
    let b = signer.sign_content(MSG_SAMPLE_EN).unwrap();
    assert_eq!(a, b);
}

// --- Verification with the public key -----------------------------------------------------------

#[test]
fn the_public_key_verifies_the_signature() {
    for (bits, pub_pem) in [(1024, RSA1024_PUB_PEM), (2048, RSA2048_PUB_PEM)] {
        let key = public_key(pub_pem);
        for (hash, alg) in [(HashAlg::Sha1, "sha1"), (HashAlg::Sha256, "sha256")] {
            for msg in MESSAGES {
                let sig = base64_decode(expected_signature(msg, bits, alg));
                assert_eq!(sig.len(), bits as usize / 8);
                assert!(
                    verify_pkcs1v15(&key, hash, message(msg).as_bytes(), &sig),
                    "{bits} {alg} {msg}"
                );
            }
        }
    }
}

#[test]
fn a_one_byte_change_in_the_signature_fails_verification() {
    let key = public_key(RSA1024_PUB_PEM);
    let sig = base64_decode(expected_signature("hant", 1024, "sha1"));
    let msg = MSG_SAMPLE_HANT.as_bytes();
    assert!(verify_pkcs1v15(&key, HashAlg::Sha1, msg, &sig));
    for i in [0, 1, sig.len() / 2, sig.len() - 1] {
        let mut bad = sig.clone();
        bad[i] ^= 0x01;
        assert!(!verify_pkcs1v15(&key, HashAlg::Sha1, msg, &bad), "byte {i}");
    }
    assert!(!verify_pkcs1v15(&key, HashAlg::Sha1, msg, &sig[1..]));
    assert!(!verify_pkcs1v15(&key, HashAlg::Sha1, msg, &[]));
}

#[test]
fn a_one_byte_change_in_the_message_fails_verification() {
    let key = public_key(RSA2048_PUB_PEM);
    let sig = base64_decode(expected_signature("en", 2048, "sha256"));
    let mut msg = MSG_SAMPLE_EN.as_bytes().to_vec();
    assert!(verify_pkcs1v15(&key, HashAlg::Sha256, &msg, &sig));
    let last = msg.len() - 1;
    msg[last] ^= 0x01;
    assert!(!verify_pkcs1v15(&key, HashAlg::Sha256, &msg, &sig));
}

#[test]
fn a_signature_verifies_only_with_its_own_hash_and_key() {
    let sig = base64_decode(expected_signature("en", 1024, "sha1"));
    let msg = MSG_SAMPLE_EN.as_bytes();
    assert!(verify_pkcs1v15(
        &public_key(RSA1024_PUB_PEM),
        HashAlg::Sha1,
        msg,
        &sig
    ));
    assert!(!verify_pkcs1v15(
        &public_key(RSA1024_PUB_PEM),
        HashAlg::Sha256,
        msg,
        &sig
    ));
    assert!(!verify_pkcs1v15(
        &public_key(RSA2048_PUB_PEM),
        HashAlg::Sha1,
        msg,
        &sig
    ));
}

#[test]
fn what_sign_order_produces_verifies_with_the_merchants_public_key() {
    let signer = rsa_signer(SignType::Rsa2, RSA2048_PKCS8_PEM);
    let params = strict(valid_order()).unwrap();
    let signed = signer.sign_order(&params).unwrap();
    let key = public_key(RSA2048_PUB_PEM);
    assert_eq!(signer.public_key_der(), Some(key.der()));
    assert!(verify_pkcs1v15(
        &key,
        HashAlg::Sha256,
        signed.pre_sign.as_bytes(),
        &base64_decode(&signed.sign)
    ));
}

// --- MD5 -----------------------------------------------------------------------------------------

#[test]
fn md5_is_the_lowercase_hex_of_md5_of_the_pre_sign_string_then_the_key() {
    let signer = md5_signer();
    for msg in MESSAGES {
        let sign = signer.sign_content(message(msg)).unwrap();
        assert_eq!(sign, expected_md5(msg), "message {msg}");
        assert_eq!(sign.len(), 32);
        assert!(sign
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
}

#[test]
fn md5_order_str_ends_with_the_hex_sign_and_sign_type_md5() {
    let params = strict(valid_order()).unwrap();
    let signed = md5_signer().sign_order(&params).unwrap();
    assert_eq!(signed.pre_sign, MSG_SAMPLE_HANT);
    assert_eq!(signed.sign, expected_md5("hant"));
    assert_eq!(
        signed.order_str,
        format!(
            "{MSG_SAMPLE_HANT}&sign=\"{}\"&sign_type=\"MD5\"",
            expected_md5("hant")
        )
    );
}

// --- orderStr ------------------------------------------------------------------------------------

#[test]
fn order_str_is_pre_sign_then_uri_encoded_sign_then_sign_type() {
    for (sign_type, alg, bits, pem) in [
        (SignType::Rsa, "sha1", 1024, RSA1024_PKCS8_PEM),
        (SignType::Rsa2, "sha256", 2048, RSA2048_PKCS8_PEM),
    ] {
        let params = strict(valid_order()).unwrap();
        let signed = rsa_signer(sign_type, pem).sign_order(&params).unwrap();
        let expected_sign = expected_signature("hant", bits, alg);
        assert_eq!(signed.pre_sign, MSG_SAMPLE_HANT);
        assert_eq!(
            signed.sign, expected_sign,
            "the sign field is not URL-encoded"
        );
        assert_eq!(
            signed.order_str,
            format!(
                "{MSG_SAMPLE_HANT}&sign=\"{}\"&sign_type=\"{sign_type}\"",
                uri_encoded_base64(expected_sign)
            )
        );
    }
}

#[test]
fn order_str_encodes_plus_slash_and_equals_in_the_sign() {
    let mut seen = (false, false, false);
    for (sign_type, pem) in [
        (SignType::Rsa, RSA1024_PKCS8_PEM),
        (SignType::Rsa2, RSA1024_PKCS8_PEM),
        (SignType::Rsa, RSA2048_PKCS8_PEM),
        (SignType::Rsa2, RSA2048_PKCS8_PEM),
    ] {
        let signer = rsa_signer(sign_type, pem);
        for subject in ["Merchandise subject", "商品名稱", "商品名称"] {
            let params = strict(order_with("subject", text(subject))).unwrap();
            let signed = signer.sign_order(&params).unwrap();
            let tail = &signed.order_str[signed.pre_sign.len()..];
            let encoded = tail
                .strip_prefix("&sign=\"")
                .and_then(|t| t.strip_suffix(&format!("\"&sign_type=\"{sign_type}\"")))
                .unwrap_or_else(|| panic!("unexpected tail {tail:?}"));
            assert!(!encoded.contains(['+', '/', '=', '"']), "{encoded}");
            assert_eq!(encoded, uri_encoded_base64(&signed.sign));
            seen.0 |= signed.sign.contains('+') && encoded.contains("%2B");
            seen.1 |= signed.sign.contains('/') && encoded.contains("%2F");
            seen.2 |= signed.sign.ends_with('=') && encoded.ends_with("%3D");
        }
    }
    assert_eq!(
        seen,
        (true, true, true),
        "the signatures used should hold +, / and ="
    );
}

#[test]
fn encode_uri_component_matches_javascript() {
    assert_eq!(encode_uri_component("a+b/c=="), "a%2Bb%2Fc%3D%3D");
    assert_eq!(
        encode_uri_component("AZaz09-_.!~*'()"),
        "AZaz09-_.!~*'()",
        "JavaScript leaves these unescaped"
    );
    assert_eq!(
        encode_uri_component(" \"&?#%:;@,$"),
        "%20%22%26%3F%23%25%3A%3B%40%2C%24"
    );
    assert_eq!(encode_uri_component("商"), "%E5%95%86");
    assert_eq!(encode_uri_component(""), "");
}

// --- sign_type agreement ---------------------------------------------------------------------------

#[test]
fn sign_type_in_params_that_agrees_with_the_signer_is_accepted_and_sent_once() {
    let params = strict(order_with("sign_type", text("RSA2"))).unwrap();
    let signed = rsa_signer(SignType::Rsa2, RSA1024_PKCS8_PEM)
        .sign_order(&params)
        .unwrap();
    assert_eq!(signed.pre_sign, MSG_SAMPLE_HANT);
    assert_eq!(signed.order_str.matches("sign_type=").count(), 1);
    assert!(signed.order_str.ends_with("&sign_type=\"RSA2\""));
}

#[test]
fn sign_type_in_params_that_disagrees_with_the_signer_is_a_sign_type_error() {
    for (declared, signer) in [
        ("RSA", rsa_signer(SignType::Rsa2, RSA1024_PKCS8_PEM)),
        ("RSA2", rsa_signer(SignType::Rsa, RSA1024_PKCS8_PEM)),
        ("MD5", rsa_signer(SignType::Rsa, RSA1024_PKCS8_PEM)),
        ("RSA", md5_signer()),
    ] {
        let params = strict(order_with("sign_type", text(declared))).unwrap();
        assert_error(signer.sign_order(&params), ErrorCode::SignType, "sign_type");
    }
}

#[test]
fn an_rsa_key_cannot_sign_as_md5() {
    let err = Signer::rsa(SignType::Md5, private_key(RSA1024_PKCS8_PEM)).unwrap_err();
    assert_eq!(err.code, ErrorCode::SignType);
    assert!(err.message.contains("MD5"), "{}", err.message);
}

#[test]
fn a_signer_reports_its_sign_type_and_key_size() {
    let signer = rsa_signer(SignType::Rsa2, RSA2048_PKCS8_PEM);
    assert_eq!(signer.sign_type(), SignType::Rsa2);
    assert_eq!(signer.key_bits(), Some(2048));
    let signer = md5_signer();
    assert_eq!(signer.sign_type(), SignType::Md5);
    assert_eq!(signer.key_bits(), None);
    assert_eq!(signer.public_key_der(), None);
}

// --- The seed's sample -------------------------------------------------------------------------------

/// The seed's JS object, in its order: `method` for `service`, and `payment_type` twice, which
/// in a JS object is one key at the position of its first appearance.
fn seed_sample_object(subject: &str, body: &str) -> Vec<(String, ParamValue)> {
    // The valid order already stands in the sample's order; only the names and texts differ.
    valid_order()
        .into_iter()
        .map(|(name, value)| match name.as_str() {
            "service" => ("method".to_owned(), value),
            "subject" => (name, text(subject)),
            "body" => (name, text(body)),
            _ => (name, value),
        })
        .collect()
}

#[test]
fn the_seeds_sample_builds_strictly_into_the_corrected_order_str() {
    let params = OrderParams::new(
        seed_sample_object("Merchandise subject", "Merchandise description"),
        &STRICT,
    )
    .unwrap();
    let signed = rsa_signer(SignType::Rsa, RSA1024_PKCS8_PEM)
        .sign_order(&params)
        .unwrap();

    let expected_pre_sign = concat!(
        r#"service="mobile.securitypay.pay"&partner="2088101568358171""#,
        r#"&seller_id="2088101568358171"&out_trade_no="ALIPAYTEST2016081622560194853""#,
        r#"&subject="Merchandise subject"&body="Merchandise description"&total_fee="0.1""#,
        r#"&notify_url="http://www.xxx.com"&payment_type="1"&_input_charset="utf-8""#,
        r#"&it_b_pay="30m"&return_url="m.alipay.com"&payment_inst="ALIPAYHK"&currency="HKD""#,
        r#"&product_code="NEW_WAP_OVERSEAS_SELLER"&forex_biz="FP""#,
    );
    assert_eq!(signed.pre_sign, expected_pre_sign);
    assert_eq!(signed.pre_sign, MSG_SAMPLE_EN);
    assert_eq!(signed.sign, expected_signature("en", 1024, "sha1"));
    assert_eq!(
        signed.order_str,
        format!(
            "{expected_pre_sign}&sign=\"{}\"&sign_type=\"RSA\"",
            uri_encoded_base64(expected_signature("en", 1024, "sha1"))
        )
    );
    // The seed's mistakes, one by one (docs/protocol.md §7).
    assert!(signed
        .order_str
        .starts_with("service=\"mobile.securitypay.pay\"&"));
    assert!(!signed.order_str.contains("method="));
    assert_eq!(signed.order_str.matches("payment_type=").count(), 1);
    assert!(signed.order_str.ends_with("\"&sign_type=\"RSA\""));
    assert!(!signed.order_str.contains("\"=&"));
    assert!(!signed.order_str.contains("MD5"));
}

#[test]
fn the_seeds_sample_with_the_chinese_texts_it_sent_signs_those_texts() {
    for (msg, subject) in [("hant", "商品名稱"), ("hans", "商品名称")] {
        let params =
            OrderParams::new(seed_sample_object(subject, "商品描述信息"), &STRICT).unwrap();
        let signed = rsa_signer(SignType::Rsa, RSA1024_PKCS8_PEM)
            .sign_order(&params)
            .unwrap();
        assert_eq!(signed.pre_sign, message(msg));
        assert!(signed
            .order_str
            .contains(&format!("&subject=\"{subject}\"&")));
        assert_eq!(signed.sign, expected_signature(msg, 1024, "sha1"));
    }
}
