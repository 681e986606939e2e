//! docs/protocol.md §6: the key formats merchants hold, and the keys that must be refused.
//! No error message and no `Debug` output may show key material.

use crate::common;

use alipayhk_pay_core::{
    ErrorCode, KeyInput, Md5Key, RsaPrivateKey, RsaPublicKey, SignType, Signer,
};
use common::*;

fn parse_private(input: KeyInput<'_>) -> alipayhk_pay_core::Result<RsaPrivateKey> {
    RsaPrivateKey::parse(input)
}

/// Every private-key format of section 6 for one key.
fn private_key_formats(
    pkcs8: &'static str,
    pkcs1: &'static str,
    der: &'static [u8],
    body: &'static str,
) -> Vec<(&'static str, KeyInput<'static>)> {
    vec![
        ("PKCS#8 PEM", KeyInput::Text(pkcs8)),
        ("PKCS#1 PEM", KeyInput::Text(pkcs1)),
        ("PKCS#8 DER bytes", KeyInput::Bytes(der)),
        (
            "bare base64 body with stray whitespace",
            KeyInput::Text(body),
        ),
        (
            "bare base64 body as bytes",
            KeyInput::Bytes(body.as_bytes()),
        ),
        ("PKCS#8 PEM as bytes", KeyInput::Bytes(pkcs8.as_bytes())),
        ("PKCS#1 PEM as bytes", KeyInput::Bytes(pkcs1.as_bytes())),
    ]
}

// --- Accepted formats ----------------------------------------------------------------------

#[test]
fn every_private_key_format_reads_as_the_same_1024_bit_key() {
    let expected = public_key(RSA1024_PUB_PEM);
    for (what, input) in private_key_formats(
        RSA1024_PKCS8_PEM,
        RSA1024_PKCS1_PEM,
        RSA1024_DER,
        RSA1024_BODY,
    ) {
        let key = parse_private(input).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(key.bits(), 1024, "{what}");
        assert_eq!(key.public_key_der(), RSA1024_PUB_DER, "{what}");
        assert_eq!(key.fingerprint(), expected.fingerprint(), "{what}");
    }
}

#[test]
fn every_private_key_format_reads_as_the_same_2048_bit_key() {
    let expected = public_key(RSA2048_PUB_PEM);
    for (what, input) in private_key_formats(
        RSA2048_PKCS8_PEM,
        RSA2048_PKCS1_PEM,
        RSA2048_DER,
        RSA2048_BODY,
    ) {
        let key = parse_private(input).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(key.bits(), 2048, "{what}");
        assert_eq!(key.public_key_der(), RSA2048_PUB_DER, "{what}");
        assert_eq!(key.fingerprint(), expected.fingerprint(), "{what}");
    }
}

#[test]
fn bare_base64_bodies_start_as_section_6_says() {
    // A sanity check on the fixtures themselves: MIIC… for 1024 bits, MIIE… for 2048.
    assert!(base64_body(RSA1024_BODY).starts_with("MIIC"));
    assert!(base64_body(RSA2048_BODY).starts_with("MIIE"));
    assert!(base64_body(RSA1024_PUB_PEM).starts_with("MIGf"));
    assert!(base64_body(RSA2048_PUB_PEM).starts_with("MIIBIj"));
    // The body fixtures do hold stray whitespace inside, not only around.
    assert!(RSA1024_BODY.trim().contains(['\n', '\t', '\r', ' ']));
}

#[test]
fn every_public_key_format_reads_as_the_same_key() {
    let expected = public_key(RSA1024_PUB_PEM);
    let body = base64_body(RSA1024_PUB_PEM);
    let spaced = format!("  {}\n{} \n", &body[..40], &body[40..]);
    let inputs = [
        ("SPKI PEM", KeyInput::Text(RSA1024_PUB_PEM)),
        ("SPKI bare base64 body", KeyInput::Text(&body)),
        (
            "SPKI bare base64 body with whitespace",
            KeyInput::Text(&spaced),
        ),
        ("SPKI DER bytes", KeyInput::Bytes(RSA1024_PUB_DER)),
        (
            "SPKI PEM as bytes",
            KeyInput::Bytes(RSA1024_PUB_PEM.as_bytes()),
        ),
        (
            "PKCS#1 RSA PUBLIC KEY PEM",
            KeyInput::Text(RSA1024_PUB_PKCS1_PEM),
        ),
    ];
    for (what, input) in inputs {
        let key = RsaPublicKey::parse(input).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(key.bits(), 1024, "{what}");
        assert_eq!(key.der(), RSA1024_PUB_DER, "{what}");
        assert_eq!(key.fingerprint(), expected.fingerprint(), "{what}");
    }
    assert_eq!(public_key(RSA2048_PUB_PEM).der(), RSA2048_PUB_DER);
    assert_ne!(
        public_key(RSA2048_PUB_PEM).fingerprint(),
        expected.fingerprint()
    );
}

// --- Refused private keys --------------------------------------------------------------------

#[test]
fn a_public_key_where_the_private_key_belongs_is_refused() {
    let pub_body = base64_body(RSA1024_PUB_PEM);
    let inputs = [
        KeyInput::Text(RSA1024_PUB_PEM),
        KeyInput::Text(RSA1024_PUB_PKCS1_PEM),
        KeyInput::Text(&pub_body),
        KeyInput::Bytes(RSA1024_PUB_DER),
    ];
    for input in inputs {
        let err = assert_key_error(parse_private(input));
        assert!(
            err.message.contains("public key"),
            "{input:?}: {}",
            err.message
        );
    }
}

#[test]
fn an_encrypted_pkcs8_key_is_refused() {
    let err = assert_key_error(parse_private(KeyInput::Text(RSA1024_ENCRYPTED_PKCS8_PEM)));
    assert!(err.message.contains("encrypted"), "{}", err.message);
    // Also as a bare base64 body, without the label that says so.
    let body = base64_body(RSA1024_ENCRYPTED_PKCS8_PEM);
    let err = assert_key_error(parse_private(KeyInput::Text(&body)));
    assert!(err.message.contains("encrypted"), "{}", err.message);
}

#[test]
fn a_legacy_encrypted_pem_is_refused() {
    assert!(RSA1024_ENCRYPTED_PKCS1_PEM.contains("Proc-Type: 4,ENCRYPTED"));
    let err = assert_key_error(parse_private(KeyInput::Text(RSA1024_ENCRYPTED_PKCS1_PEM)));
    assert!(err.message.contains("encrypted"), "{}", err.message);
}

#[test]
fn an_ec_key_is_refused() {
    let err = assert_key_error(parse_private(KeyInput::Text(EC_P256_PKCS8_PEM)));
    assert!(err.message.contains("EC"), "{}", err.message);
    assert!(err.message.contains("RSA"), "{}", err.message);
}

#[test]
fn an_ed25519_key_is_refused() {
    let err = assert_key_error(parse_private(KeyInput::Text(ED25519_PKCS8_PEM)));
    assert!(err.message.contains("Ed25519"), "{}", err.message);
    assert!(err.message.contains("RSA"), "{}", err.message);
}

#[test]
fn an_rsa_key_under_1024_bits_is_refused() {
    let err = assert_key_error(parse_private(KeyInput::Text(RSA512_PKCS8_PEM)));
    assert!(err.message.contains("512"), "{}", err.message);
    assert!(err.message.contains("1024"), "{}", err.message);
}

#[test]
fn garbage_is_refused() {
    for input in [
        KeyInput::Text("not a key"),
        KeyInput::Text("MIIC"),
        KeyInput::Text("!!!!"),
        KeyInput::Text("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----"),
        KeyInput::Text("-----BEGIN NONSENSE-----\nMIIC\n-----END NONSENSE-----"),
        KeyInput::Bytes(&[0xff, 0xfe, 0x00, 0x01]),
        KeyInput::Bytes(&[0x30, 0x03, 0x02, 0x01, 0x00]),
        KeyInput::Bytes(&[0x30]),
    ] {
        assert_key_error(parse_private(input));
    }
}

#[test]
fn a_truncated_pem_is_refused() {
    // Cut in the middle: no END line.
    let half = &RSA1024_PKCS8_PEM[..RSA1024_PKCS8_PEM.len() / 2];
    assert_key_error(parse_private(KeyInput::Text(half)));
    // Body lines lost, BEGIN and END lines kept.
    let lines: Vec<&str> = RSA1024_PKCS8_PEM.lines().collect();
    let mut cut: Vec<&str> = lines[..4].to_vec();
    cut.push(lines[lines.len() - 1]);
    let cut = cut.join("\n");
    assert!(cut.ends_with("-----END PRIVATE KEY-----"));
    assert_key_error(parse_private(KeyInput::Text(&cut)));
    // The same for PKCS#1.
    let lines: Vec<&str> = RSA1024_PKCS1_PEM.lines().collect();
    let mut cut: Vec<&str> = lines[..4].to_vec();
    cut.push(lines[lines.len() - 1]);
    assert_key_error(parse_private(KeyInput::Text(&cut.join("\n"))));
    // DER cut short.
    assert_key_error(parse_private(KeyInput::Bytes(&RSA1024_DER[..300])));
}

#[test]
fn an_empty_key_is_refused() {
    let err = assert_key_error(parse_private(KeyInput::Text("")));
    assert!(err.message.contains("empty"), "{}", err.message);
    let err = assert_key_error(parse_private(KeyInput::Bytes(b"")));
    assert!(err.message.contains("empty"), "{}", err.message);
}

#[test]
fn a_whitespace_only_key_is_refused() {
    let err = assert_key_error(parse_private(KeyInput::Text(" \n\t\r\n ")));
    assert!(err.message.contains("empty"), "{}", err.message);
    let err = assert_key_error(parse_private(KeyInput::Bytes(b" \n\t ")));
    assert!(err.message.contains("empty"), "{}", err.message);
}

// --- Refused public keys ---------------------------------------------------------------------

#[test]
fn a_private_key_where_a_public_key_belongs_is_refused() {
    for input in [
        KeyInput::Text(RSA1024_PKCS8_PEM),
        KeyInput::Text(RSA1024_PKCS1_PEM),
        KeyInput::Text(RSA1024_BODY),
        KeyInput::Bytes(RSA1024_DER),
    ] {
        let err = assert_key_error(RsaPublicKey::parse(input));
        assert!(err.message.contains("private key"), "{}", err.message);
    }
}

#[test]
fn broken_public_keys_are_refused() {
    let body = base64_body(RSA1024_PUB_PEM);
    for input in [
        KeyInput::Text(""),
        KeyInput::Text("   "),
        KeyInput::Text("not a key"),
        KeyInput::Text(&body[..body.len() / 2]),
        KeyInput::Text(&RSA1024_PUB_PEM[..RSA1024_PUB_PEM.len() - 30]),
        KeyInput::Bytes(&RSA1024_PUB_DER[..100]),
    ] {
        assert_key_error(RsaPublicKey::parse(input));
    }
}

// --- MD5 key -----------------------------------------------------------------------------------

#[test]
fn an_md5_key_of_32_letters_and_digits_is_accepted() {
    assert_eq!(MD5_KEY.len(), 32);
    assert!(Md5Key::new(MD5_KEY).is_ok());
}

#[test]
fn an_empty_md5_key_is_refused() {
    let err = assert_key_error(Md5Key::new(""));
    assert!(err.message.contains("empty"), "{}", err.message);
}

#[test]
fn an_md5_key_with_whitespace_or_a_line_break_is_refused() {
    for bad in [
        format!("{MD5_KEY} "),
        format!(" {MD5_KEY}"),
        format!("{} {}", &MD5_KEY[..16], &MD5_KEY[16..]),
        format!("{MD5_KEY}\n"),
        format!("{MD5_KEY}\r\n"),
        format!("{MD5_KEY}\0"),
    ] {
        let err = assert_key_error(Md5Key::new(&bad));
        assert!(
            !err.message.contains(&MD5_KEY[..16]) && !err.message.contains(&MD5_KEY[16..]),
            "the MD5 key appears in {:?}",
            err.message
        );
    }
}

// --- No key material in messages or Debug -------------------------------------------------------

#[test]
fn the_key_material_check_catches_a_quoted_key_body() {
    // Guards the guard: the check used by every key test must fail on real key material.
    let window = &base64_body(RSA2048_PKCS8_PEM)[100..120];
    let leaked = format!("bad key near {window}");
    assert!(std::panic::catch_unwind(|| assert_no_key_material(&leaked)).is_err());
    assert!(std::panic::catch_unwind(|| assert_no_key_material("a clean message")).is_ok());
}

#[test]
fn debug_of_a_parsed_private_key_shows_no_key_material() {
    for pem in [RSA1024_PKCS8_PEM, RSA2048_PKCS8_PEM] {
        let key = private_key(pem);
        let shown = format!("{key:?} {key:#?}");
        assert_no_key_material(&shown);
        assert!(shown.contains("redacted"), "{shown}");
    }
}

#[test]
fn debug_of_a_signer_shows_no_key_material() {
    for t in [SignType::Rsa, SignType::Rsa2] {
        let signer = Signer::rsa(t, private_key(RSA1024_PKCS1_PEM)).unwrap();
        assert_no_key_material(&format!("{signer:?} {signer:#?}"));
    }
    let signer = Signer::md5(Md5Key::new(MD5_KEY).unwrap());
    let shown = format!("{signer:?} {signer:#?}");
    assert!(!shown.contains(&MD5_KEY[..8]), "{shown}");
}

#[test]
fn debug_of_an_md5_key_shows_no_key_material() {
    let key = Md5Key::new(MD5_KEY).unwrap();
    let shown = format!("{key:?} {key:#?}");
    for i in 0..=MD5_KEY.len() - 8 {
        assert!(!shown.contains(&MD5_KEY[i..i + 8]), "{shown}");
    }
}

#[test]
fn debug_of_a_key_input_shows_no_key_material() {
    let shown = format!(
        "{:?} {:?} {:?}",
        KeyInput::Text(RSA1024_PKCS8_PEM),
        KeyInput::Bytes(RSA1024_BODY.as_bytes()),
        KeyInput::Text(MD5_KEY)
    );
    assert_no_key_material(&shown);
    assert!(!shown.contains(MD5_KEY), "{shown}");
}

#[test]
fn debug_of_a_public_key_shows_no_modulus() {
    // A public key is not secret, but its Debug is a fingerprint, not the key text.
    let key = public_key(RSA1024_PUB_PEM);
    let shown = format!("{key:?}");
    assert!(shown.contains(&key.fingerprint()), "{shown}");
    assert_no_key_material(&shown);
}

#[test]
fn key_errors_carry_no_field_and_the_invalid_key_code() {
    let err = RsaPrivateKey::parse(KeyInput::Text("")).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidKey);
    assert_eq!(err.code.as_str(), "ERR_ALIPAYHK_INVALID_KEY");
    assert_eq!(err.field, None);
}

mod keys_as_merchants_hold_them {
    use super::*;

    #[test]
    fn a_pem_from_an_environment_variable_with_written_out_line_breaks_is_read() {
        let want = RsaPrivateKey::parse(KeyInput::Text(RSA2048_PKCS8_PEM)).unwrap();
        for sep in ["\\n", "\\r\\n"] {
            let env_text = RSA2048_PKCS8_PEM.trim_end().replace('\n', sep);
            assert!(!env_text.contains('\n'));
            let k = RsaPrivateKey::parse(KeyInput::Text(&env_text)).unwrap();
            assert_eq!(k.fingerprint(), want.fingerprint());
        }
        let pub_text = RSA2048_PUB_PEM.trim_end().replace('\n', "\\n");
        assert_eq!(
            RsaPublicKey::parse(KeyInput::Text(&pub_text))
                .unwrap()
                .fingerprint(),
            RsaPublicKey::parse(KeyInput::Text(RSA2048_PUB_PEM))
                .unwrap()
                .fingerprint()
        );
    }

    #[test]
    fn a_pkcs8_body_under_an_rsa_private_key_label_is_read() {
        let body = base64_body(RSA2048_PKCS8_PEM);
        let mislabelled =
            format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n");
        let k = RsaPrivateKey::parse(KeyInput::Text(&mislabelled)).unwrap();
        let want = RsaPrivateKey::parse(KeyInput::Text(RSA2048_PKCS8_PEM)).unwrap();
        assert_eq!(k.fingerprint(), want.fingerprint());
    }

    #[test]
    fn a_file_path_is_told_to_pass_the_contents() {
        for path in [
            "./keys/merchant_private_key.pem",
            "/etc/alipay/app_private_key.pem",
            "C:\\keys\\app_private_key.txt",
            "~/alipay/rsa_private.key",
            "merchant.pem",
        ] {
            let e = RsaPrivateKey::parse(KeyInput::Text(path)).unwrap_err();
            assert!(
                e.message.contains("looks like a file path"),
                "{path}: {}",
                e.message
            );
            assert!(e.message.contains("readFileSync"));
            assert!(
                !e.message.contains(path),
                "the path is echoed: {}",
                e.message
            );
            let e = RsaPublicKey::parse(KeyInput::Text(path)).unwrap_err();
            assert!(
                e.message.contains("looks like a file path"),
                "{path}: {}",
                e.message
            );
        }
        // A bare base64 key (which holds `/`) is still a key.
        let body = base64_body(RSA2048_PKCS8_PEM);
        assert!(RsaPrivateKey::parse(KeyInput::Text(&body)).is_ok());
    }
}
