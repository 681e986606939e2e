//! The OpenSSL backend and the pure-Rust backend sign every order alike, byte for byte:
//! random keys (1024 and 2048 bits), random orders, SHA-1 and SHA-256.
#![cfg(feature = "openssl")]

use alipayhk_pay_core::{
    Backend, BuildOptions, KeyInput, OrderParams, ParamValue, RsaPrivateKey, SignType, Signer,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Fresh keys from OpenSSL's generator, as PKCS#1 DER.
fn random_keys(bits: u32, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            openssl::rsa::Rsa::generate(bits)
                .unwrap()
                .private_key_to_der()
                .unwrap()
        })
        .collect()
}

fn order_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    let text = proptest::collection::vec(
        prop_oneof![
            "[ -!#-~]{1,8}",
            Just("商品名稱".to_string()),
            Just("商品名称".to_string()),
            Just("😀".to_string()),
        ],
        1..12,
    )
    .prop_map(|v| v.concat());
    (text.clone(), proptest::option::of(text), 1u64..100_000_000).prop_map(
        |(subject, body, cents)| {
            let mut p = vec![
                ("service", "mobile.securitypay.pay".to_string()),
                ("partner", "2088101568358171".to_string()),
                ("seller_id", "2088101568358171".to_string()),
                ("out_trade_no", format!("DIFF{cents}")),
                ("subject", subject.replace('&', "+")),
                ("total_fee", format!("{}.{:02}", cents / 100, cents % 100)),
                ("currency", "HKD".to_string()),
                (
                    "notify_url",
                    "https://shop.example.com/alipay/notify".to_string(),
                ),
                ("payment_type", "1".to_string()),
                ("_input_charset", "utf-8".to_string()),
                ("product_code", "NEW_WAP_OVERSEAS_SELLER".to_string()),
                ("forex_biz", "FP".to_string()),
            ];
            if let Some(b) = body {
                p.push(("body", b.replace('&', "+")));
            }
            p.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
        },
    )
}

#[test]
fn openssl_and_rustcrypto_sign_1000_random_orders_identically() {
    let keys: Vec<Vec<u8>> = random_keys(1024, 6)
        .into_iter()
        .chain(random_keys(2048, 4))
        .collect();
    let signers: Vec<(Signer, Signer)> = keys
        .iter()
        .enumerate()
        .map(|(i, der)| {
            let t = if i % 2 == 0 {
                SignType::Rsa
            } else {
                SignType::Rsa2
            };
            let a = RsaPrivateKey::parse_with(KeyInput::Bytes(der), Backend::OpenSsl).unwrap();
            let b = RsaPrivateKey::parse_with(KeyInput::Bytes(der), Backend::RustCrypto).unwrap();
            assert_eq!(a.backend(), Backend::OpenSsl);
            assert_eq!(b.backend(), Backend::RustCrypto);
            assert_eq!(
                a.public_key_der(),
                b.public_key_der(),
                "both read the same key"
            );
            (Signer::rsa(t, a).unwrap(), Signer::rsa(t, b).unwrap())
        })
        .collect();
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    let n = std::cell::Cell::new(0usize);
    runner
        .run(&(order_strategy(), 0..signers.len()), |(raw, k)| {
            let params = OrderParams::new(
                raw.into_iter().map(|(k, v)| (k, ParamValue::Text(v))),
                &BuildOptions::default(),
            )
            .unwrap();
            let (openssl, rustcrypto) = &signers[k];
            let a = openssl.sign_order(&params).unwrap();
            let b = rustcrypto.sign_order(&params).unwrap();
            prop_assert_eq!(&a.order_str, &b.order_str);
            n.set(n.get() + 1);
            Ok(())
        })
        .unwrap();
    assert!(n.get() >= 1000, "only {} orders were compared", n.get());
}

#[test]
fn a_key_whose_private_numbers_disagree_is_refused_by_both_backends() {
    // OpenSSL checks each CRT result and falls back to d, so a key only signs garbage when
    // both d and a CRT exponent are wrong; the parse-time pairwise check must catch that.
    let rsa = openssl::rsa::Rsa::generate(1024).unwrap();
    let flip = |b: &openssl::bn::BigNumRef| {
        let mut v = b.to_vec();
        v[10] ^= 0x01;
        openssl::bn::BigNum::from_slice(&v).unwrap()
    };
    let damaged = openssl::rsa::Rsa::from_private_components(
        rsa.n().to_owned().unwrap(),
        rsa.e().to_owned().unwrap(),
        flip(rsa.d()),
        rsa.p().unwrap().to_owned().unwrap(),
        rsa.q().unwrap().to_owned().unwrap(),
        flip(rsa.dmp1().unwrap()),
        rsa.dmq1().unwrap().to_owned().unwrap(),
        rsa.iqmp().unwrap().to_owned().unwrap(),
    )
    .unwrap()
    .private_key_to_der()
    .unwrap();
    for backend in [Backend::OpenSsl, Backend::RustCrypto] {
        let err = RsaPrivateKey::parse_with(KeyInput::Bytes(&damaged), backend).unwrap_err();
        assert_eq!(
            err.code,
            alipayhk_pay_core::ErrorCode::InvalidKey,
            "{backend:?}"
        );
    }
}
