//! Checking what comes back: form decoding, notifications, tradePay results, and reading an
//! orderStr back (docs/protocol.md §4 and §5).

use crate::common;

use alipayhk_pay_core::form::{decode_form, FormError};
use alipayhk_pay_core::merchant::{
    check_expected_order, check_notify_matches_order, ExpectedOrder,
};
use alipayhk_pay_core::notify::{
    is_paid, notify_sign_content, verify_notify_body, verify_notify_params,
};
use alipayhk_pay_core::order_str::{diagnose_order_str, parse_order_str, verify_trade_pay_result};
use alipayhk_pay_core::sign::encode_uri_component;
use alipayhk_pay_core::{
    BuildOptions, KeyInput, Md5Key, OrderParams, ParamValue, Reason, RsaPrivateKey, RsaPublicKey,
    SignType, Signer, VerifyKey,
};
use common::*;
use proptest::prelude::*;

fn alipay_signer(t: SignType) -> Signer {
    Signer::rsa(
        t,
        RsaPrivateKey::parse(KeyInput::Text(RSA2048_PKCS8_PEM)).unwrap(),
    )
    .unwrap()
}

fn alipay_public() -> VerifyKey {
    VerifyKey::rsa(RsaPublicKey::parse(KeyInput::Text(RSA2048_PUB_PEM)).unwrap())
}

fn merchant_public() -> VerifyKey {
    VerifyKey::rsa(RsaPublicKey::parse(KeyInput::Text(RSA1024_PUB_PEM)).unwrap())
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Form-encodes as a browser or Alipay would: space as `+`, everything else outside
/// the unreserved set as `%XX`.
fn form_encode(s: &str) -> String {
    encode_uri_component(s).replace("%20", "+")
}

fn notification(fields: &[(&str, &str)], signer: &Signer) -> String {
    let content = notify_sign_content(&pairs(fields));
    let sign = signer.sign_content(&content).unwrap();
    let mut body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect();
    body.push(format!("sign={}", form_encode(&sign)));
    body.push(format!("sign_type={}", signer.sign_type()));
    body.join("&")
}

const FIELDS: &[(&str, &str)] = &[
    ("notify_type", "trade_status_sync"),
    ("notify_id", "91722adff935e8cfa58b3aabf4dead6ibe"),
    ("out_trade_no", "ORDER-1"),
    ("subject", "商品名稱 a+b=c&d 100%"),
    ("body", ""),
    ("total_fee", "0.10"),
    ("currency", "HKD"),
    ("trade_status", "TRADE_FINISHED"),
    ("seller_id", "2088101568358171"),
];

mod form_decoding {
    use super::*;

    #[test]
    fn plus_is_a_space_and_percent_is_a_byte() {
        assert_eq!(
            decode_form(b"a=x+y&b=%E5%95%86%2B%25&c=").unwrap(),
            pairs(&[("a", "x y"), ("b", "商+%"), ("c", "")])
        );
    }

    #[test]
    fn values_are_not_trimmed() {
        assert_eq!(decode_form(b"a=+x+").unwrap(), pairs(&[("a", " x ")]));
    }

    #[test]
    fn broken_percent_encoding_is_an_error() {
        assert!(matches!(
            decode_form(b"a=%zz"),
            Err(FormError::BadPercent { .. })
        ));
        assert!(matches!(
            decode_form(b"a=%4"),
            Err(FormError::BadPercent { .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert!(matches!(
            decode_form(b"a=%ff%fe"),
            Err(FormError::NotUtf8 { .. })
        ));
    }

    #[test]
    fn a_repeated_name_is_an_error() {
        assert!(matches!(
            decode_form(b"a=1&b=2&a=1"),
            Err(FormError::Repeated { .. })
        ));
    }
}

mod notifications {
    use super::*;

    #[test]
    fn the_signed_content_is_sorted_unquoted_and_skips_sign_sign_type_and_empty_values() {
        let content = notify_sign_content(&pairs(&[
            ("b", "2"),
            ("sign", "x"),
            ("a", "1"),
            ("sign_type", "RSA"),
            ("c", ""),
            ("B", "3"),
        ]));
        assert_eq!(content, "B=3&a=1&b=2");
    }

    #[test]
    fn a_genuine_rsa_and_rsa2_notification_verifies_from_the_raw_body() {
        for t in [SignType::Rsa, SignType::Rsa2] {
            let body = notification(FIELDS, &alipay_signer(t));
            let v = verify_notify_body(body.as_bytes(), &alipay_public());
            assert!(v.ok(), "{t}: {:?}", v.failure);
            assert_eq!(v.sign_type, t.as_str());
            assert!(v
                .params
                .contains(&("subject".into(), "商品名稱 a+b=c&d 100%".into())));
        }
    }

    #[test]
    fn an_md5_notification_verifies_with_the_md5_key() {
        let signer = Signer::md5(Md5Key::new(MD5_KEY.trim()).unwrap());
        let body = notification(FIELDS, &signer);
        let key = VerifyKey::md5(Md5Key::new(MD5_KEY.trim()).unwrap());
        assert!(verify_notify_body(body.as_bytes(), &key).ok());
        let wrong = VerifyKey::md5(Md5Key::new("0123456789abcdef0123456789abcdef").unwrap());
        assert_eq!(
            verify_notify_body(body.as_bytes(), &wrong)
                .failure
                .unwrap()
                .reason,
            Reason::BadSignature
        );
    }

    #[test]
    fn a_tampered_field_fails_with_bad_signature() {
        let body = notification(FIELDS, &alipay_signer(SignType::Rsa));
        let forged = body.replace("total_fee=0.10", "total_fee=100.00");
        let v = verify_notify_body(forged.as_bytes(), &alipay_public());
        assert_eq!(v.failure.unwrap().reason, Reason::BadSignature);
    }

    #[test]
    fn the_merchants_own_public_key_does_not_verify_alipays_signature() {
        let body = notification(FIELDS, &alipay_signer(SignType::Rsa));
        let v = verify_notify_body(body.as_bytes(), &merchant_public());
        assert_eq!(v.failure.unwrap().reason, Reason::BadSignature);
    }

    #[test]
    fn a_sign_whose_plus_became_spaces_still_verifies() {
        let body = notification(FIELDS, &alipay_signer(SignType::Rsa2));
        let mut decoded = decode_form(body.as_bytes()).unwrap();
        let sign = decoded.iter_mut().find(|(k, _)| k == "sign").unwrap();
        assert!(
            sign.1.contains('+') || sign.1.contains('/'),
            "want a sign with + or /"
        );
        sign.1 = sign.1.replace('+', " ");
        assert!(verify_notify_params(decoded, &alipay_public()).ok());
    }

    #[test]
    fn no_sign_is_missing_sign_and_an_unknown_type_is_unsupported() {
        let body = notification(FIELDS, &alipay_signer(SignType::Rsa));
        let without_sign: String = body
            .split('&')
            .filter(|p| !p.starts_with("sign="))
            .collect::<Vec<_>>()
            .join("&");
        assert_eq!(
            verify_notify_body(without_sign.as_bytes(), &alipay_public())
                .failure
                .unwrap()
                .reason,
            Reason::MissingSign
        );
        let unknown = body.replace("sign_type=RSA", "sign_type=RSA3");
        assert_eq!(
            verify_notify_body(unknown.as_bytes(), &alipay_public())
                .failure
                .unwrap()
                .reason,
            Reason::UnsupportedSignType
        );
        let md5_label = body.replace("sign_type=RSA", "sign_type=MD5");
        assert_eq!(
            verify_notify_body(md5_label.as_bytes(), &alipay_public())
                .failure
                .unwrap()
                .reason,
            Reason::UnsupportedSignType
        );
    }

    #[test]
    fn a_malformed_body_is_malformed() {
        for body in ["a=%zz", "a=1&a=2", "a=%ff"] {
            let v = verify_notify_body(body.as_bytes(), &alipay_public());
            assert_eq!(v.failure.unwrap().reason, Reason::Malformed, "{body}");
        }
    }

    #[test]
    fn paid_means_trade_success_or_trade_finished() {
        for (status, paid) in [
            ("TRADE_SUCCESS", true),
            ("TRADE_FINISHED", true),
            ("WAIT_BUYER_PAY", false),
            ("TRADE_CLOSED", false),
        ] {
            assert_eq!(
                is_paid(&pairs(&[("trade_status", status)])),
                paid,
                "{status}"
            );
        }
        assert!(!is_paid(&[]));
    }

    #[test]
    fn amounts_are_compared_as_decimals() {
        let notified = pairs(&[
            ("out_trade_no", "A"),
            ("total_fee", "0.10"),
            ("currency", "HKD"),
            ("seller_id", "2088101568358171"),
        ]);
        let mut expected = ExpectedOrder {
            out_trade_no: "A".into(),
            total_fee: "0.1".into(),
            currency: Some("HKD".into()),
            seller_id: Some("2088101568358171".into()),
        };
        assert!(check_notify_matches_order(&notified, &expected).is_empty());
        expected.total_fee = "0.11".into();
        expected.currency = Some("CNY".into());
        let mismatches = check_notify_matches_order(&notified, &expected);
        assert_eq!(mismatches.len(), 2, "{mismatches:?}");
        assert_eq!(mismatches[0].field, "total_fee");
        assert_eq!(mismatches[0].notification.as_deref(), Some("0.10"));
        assert_eq!(mismatches[0].order, "0.11");
        assert_eq!(mismatches[1].field, "currency");
        assert!(mismatches[1].message.starts_with("currency"));
    }

    #[test]
    fn another_order_number_is_a_mismatch_even_when_the_amount_agrees() {
        let notified = pairs(&[
            ("out_trade_no", "ORDER-1"),
            ("total_fee", "28.00"),
            ("currency", "HKD"),
        ]);
        let expected = ExpectedOrder {
            out_trade_no: "ORDER-999".into(),
            total_fee: "28.00".into(),
            currency: Some("HKD".into()),
            seller_id: None,
        };
        let m = check_notify_matches_order(&notified, &expected);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].field, "out_trade_no");
        assert_eq!(m[0].notification.as_deref(), Some("ORDER-1"));
        assert_eq!(m[0].order, "ORDER-999");
    }

    #[test]
    fn a_field_the_order_names_but_the_notification_lacks_is_reported() {
        let notified = pairs(&[("out_trade_no", "A")]);
        let expected = ExpectedOrder {
            out_trade_no: "A".into(),
            total_fee: "1.00".into(),
            currency: Some("HKD".into()),
            seller_id: Some("2088101568358171".into()),
        };
        let m = check_notify_matches_order(&notified, &expected);
        let fields: Vec<&str> = m.iter().map(|m| m.field).collect();
        assert_eq!(fields, ["total_fee", "currency", "seller_id"]);
        assert!(m.iter().all(|m| m.notification.is_none()));
        // partner is not the seller: a notification without seller_id does not match one.
        let with_partner = pairs(&[
            ("out_trade_no", "A"),
            ("total_fee", "1.00"),
            ("currency", "HKD"),
            ("partner", "2088101568358171"),
        ]);
        let m = check_notify_matches_order(&with_partner, &expected);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].field, "seller_id");
    }

    #[test]
    fn an_order_whose_own_amount_is_not_a_decimal_is_refused_before_comparing() {
        let bad = ExpectedOrder {
            out_trade_no: "A".into(),
            total_fee: "28".into(),
            ..ExpectedOrder::default()
        };
        assert!(check_expected_order(&bad).is_ok());
        for (no, fee, field) in [
            ("", "1.00", "expected.outTradeNo"),
            ("A", "", "expected.totalFee"),
            ("A", "1.001", "expected.totalFee"),
            ("A", "abc", "expected.totalFee"),
        ] {
            let e = check_expected_order(&ExpectedOrder {
                out_trade_no: no.into(),
                total_fee: fee.into(),
                ..ExpectedOrder::default()
            })
            .unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{no:?} {fee:?}");
        }
    }
}

mod trade_pay_results {
    use super::*;

    fn result_text(signer: &Signer) -> String {
        let content = format!(
            "{}&success=\"true\"",
            common::MSG_SAMPLE_HANT.trim_end_matches('\n')
        );
        let sign = signer.sign_content(&content).unwrap();
        format!(
            "resultStatus={{9000}};memo={{}};result={{{content}&sign_type=\"{}\"&sign=\"{sign}\"}}",
            signer.sign_type()
        )
    }

    #[test]
    fn a_genuine_result_verifies_whole_or_as_the_inner_result() {
        let text = result_text(&alipay_signer(SignType::Rsa));
        let v = verify_trade_pay_result(&text, &alipay_public());
        assert!(v.failure.is_none() && v.success, "{:?}", v.failure);
        assert_eq!(v.result_status.as_deref(), Some("9000"));
        let inner = &text[text.find("result={").unwrap() + 8..text.len() - 1];
        assert!(verify_trade_pay_result(inner, &alipay_public())
            .failure
            .is_none());
    }

    #[test]
    fn a_tampered_result_fails_and_spaces_for_plus_still_verify() {
        let text = result_text(&alipay_signer(SignType::Rsa2));
        let tampered = text.replacen("total_fee=\"0.1\"", "total_fee=\"0.2\"", 1);
        assert_ne!(tampered, text);
        assert_eq!(
            verify_trade_pay_result(&tampered, &alipay_public())
                .failure
                .unwrap()
                .reason,
            Reason::BadSignature
        );
        let sign_start = text.find("&sign=\"").unwrap();
        let spaced = format!(
            "{}{}",
            &text[..sign_start],
            text[sign_start..].replace('+', " ")
        );
        assert!(verify_trade_pay_result(&spaced, &alipay_public())
            .failure
            .is_none());
    }

    #[test]
    fn a_cancelled_result_verifies_but_is_not_a_success() {
        let text = result_text(&alipay_signer(SignType::Rsa)).replace("{9000}", "{6001}");
        let v = verify_trade_pay_result(&text, &alipay_public());
        assert!(v.failure.is_none());
        assert!(!v.success);
    }
}

mod order_str_reading {
    use super::*;

    fn merchant_signer() -> Signer {
        Signer::rsa(
            SignType::Rsa,
            RsaPrivateKey::parse(KeyInput::Text(RSA1024_PKCS8_PEM)).unwrap(),
        )
        .unwrap()
    }

    fn built(params: &[(&str, &str)], options: &BuildOptions) -> (OrderParams, String) {
        let p = OrderParams::new(
            params.iter().map(|(k, v)| (*k, ParamValue::from(*v))),
            options,
        )
        .unwrap();
        let s = merchant_signer().sign_order(&p).unwrap().order_str;
        (p, s)
    }

    #[test]
    fn the_seed_sample_names_its_mistakes() {
        let sample = "method=\"mobile.securitypay.pay\"&partner=\"2088101568358171\"&seller_id=\"2088101568358171\"&out_trade_no=\"ALIPAYTEST2016081622560194853\"&subject=\"商品名稱\"&body=\"商品描述信息\"&total_fee=\"0.1\"&notify_url=\"http://www.xxx.com\"&payment_type=\"1\"&_input_charset=\"utf-8\"&it_b_pay=\"30m\"&return_url=\"m.alipay.com\"&payment_inst=\"ALIPAYHK\"&currency=\"HKD\"&product_code=\"NEW_WAP_OVERSEAS_SELLER\"&forex_biz=\"FP\"&payment_type=\"1\"&sign=\"aueDw0PaUqVMvbiButPCmWy8VsNJIgNKRV4tDEz3mSgIpa5ODnZKVCd1GGCtu7hNzxnwLOiku+TRJUVM24aHkKWrdyBHECjkUBvrziWiZBESLCyJPwT1YHGnioRUhLvL1MqTTm85urPeqAUUir4UyxyWowHitjkxh3ru6nSLkLU\"=&sign_type=\"MD5\"";
        let reasons: Vec<Reason> = diagnose_order_str(sample, Some(&merchant_public()))
            .into_iter()
            .map(|f| f.reason)
            .collect();
        for r in [
            Reason::MethodInsteadOfService,
            Reason::DuplicateParam,
            Reason::TextOutsideQuotes,
            Reason::SignNotUrlEncoded,
            Reason::SignTypeMismatch,
        ] {
            assert!(reasons.contains(&r), "{r:?} not in {reasons:?}");
        }
    }

    #[test]
    fn a_label_that_names_the_other_rsa_hash_is_a_sign_type_mismatch() {
        let (_, s) = built(SAMPLE, &BuildOptions::default());
        let relabelled = s.replace("sign_type=\"RSA\"", "sign_type=\"RSA2\"");
        let found = diagnose_order_str(&relabelled, Some(&merchant_public()));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].reason, Reason::SignTypeMismatch);
        assert!(found[0].message.contains("valid RSA signature"));
    }

    const SAMPLE: &[(&str, &str)] = &[
        ("service", "mobile.securitypay.pay"),
        ("partner", "2088101568358171"),
        ("seller_id", "2088101568358171"),
        ("out_trade_no", "A-1"),
        ("subject", "商品名稱"),
        ("total_fee", "0.10"),
        ("currency", "HKD"),
        ("notify_url", "https://shop.example.com/notify"),
        ("payment_type", "1"),
        ("_input_charset", "utf-8"),
        ("product_code", "NEW_WAP_OVERSEAS_SELLER"),
        ("forex_biz", "FP"),
        (
            "trade_information",
            "{\"business_type\":\"4\",\"goods_info\":\"a^1|b^2\"}",
        ),
    ];

    fn value_strategy() -> impl Strategy<Value = String> {
        // Everything the safety rules allow outside trade_information: any text without
        // `"` or control characters, with `&` and `=` and CJK and emoji among it.
        proptest::collection::vec(
            prop_oneof![
                "[ -!#-~]",
                Just("&".to_string()),
                Just("=".to_string()),
                Just("商".to_string()),
                Just("名稱".to_string()),
                Just("😀".to_string()),
            ],
            1..24,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn parsing_gives_back_what_was_built_and_the_string_verifies(
            values in proptest::collection::vec(value_strategy(), 1..8),
            sort in any::<bool>(),
        ) {
            let names: Vec<String> = (0..values.len()).map(|i| format!("p{i}_x")).collect();
            let raw: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(values.iter().map(String::as_str)).collect();
            let options = BuildOptions { sort_keys: sort, strict: false };
            let (params, s) = built(&raw, &options);
            let parsed = parse_order_str(&s).unwrap();
            prop_assert_eq!(&parsed.params, &params.params().to_vec());
            prop_assert_eq!(&parsed.pre_sign, &params.pre_sign());
            prop_assert_eq!(parsed.sign_type.as_str(), "RSA");
            prop_assert!(diagnose_order_str(&s, Some(&merchant_public())).is_empty());
        }

        #[test]
        fn any_single_byte_change_to_the_signed_part_fails(pos in any::<prop::sample::Index>(), byte in 0x20u8..0x7f) {
            let (params, s) = built(SAMPLE, &BuildOptions::default());
            let pre = params.pre_sign();
            let i = pos.index(pre.len());
            prop_assume!(pre.is_char_boundary(i) && pre.is_char_boundary(i + 1) && pre.as_bytes()[i] != byte);
            let mut changed = s.clone().into_bytes();
            changed[i] = byte;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert!(!diagnose_order_str(&changed, Some(&merchant_public())).is_empty());
        }
    }
}
