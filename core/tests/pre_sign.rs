//! docs/protocol.md §3: how the checked parameters become the pre-sign string.

use crate::common;

use alipayhk_pay_core::{BuildOptions, ErrorCode, OrderParams, ParamValue, SignType};
use common::*;

fn pairs(items: &[(&str, &str)]) -> Vec<(String, ParamValue)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), text(v)))
        .collect()
}

#[test]
fn pre_sign_joins_key_quote_value_quote_with_ampersands() {
    let params = loose(pairs(&[("a", "1"), ("b", "two")])).unwrap();
    assert_eq!(params.pre_sign(), r#"a="1"&b="two""#);
}

#[test]
fn pre_sign_keeps_the_callers_order() {
    let params = loose(pairs(&[("zeta", "1"), ("alpha", "2"), ("mid", "3")])).unwrap();
    assert_eq!(params.pre_sign(), r#"zeta="1"&alpha="2"&mid="3""#);
    let names: Vec<&str> = params.params().iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
}

#[test]
fn sort_keys_sorts_names_in_ascending_byte_order() {
    let options = BuildOptions {
        sort_keys: true,
        strict: false,
    };
    // Bytes: 'Z' (0x5A) < '_' (0x5F) < 'a' (0x61); '2' (0x32) < 'A' (0x41); a prefix first.
    let raw = pairs(&[
        ("body", "1"),
        ("apple", "2"),
        ("_input_charset", "3"),
        ("Zed", "4"),
        ("bodyA", "5"),
        ("body2", "6"),
    ]);
    let params = OrderParams::new(raw, &options).unwrap();
    assert_eq!(
        params.pre_sign(),
        r#"Zed="4"&_input_charset="3"&apple="2"&body="1"&body2="6"&bodyA="5""#
    );
}

#[test]
fn sort_keys_sorts_a_strict_order_with_service_under_its_real_name() {
    let options = BuildOptions {
        sort_keys: true,
        strict: true,
    };
    let mut order = valid_order();
    order[0].0 = "method".into();
    let params = OrderParams::new(order, &options).unwrap();
    let names: Vec<&str> = params.params().iter().map(|(k, _)| k.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert_eq!(names[0], "_input_charset");
    assert!(names.contains(&"service") && !names.contains(&"method"));
}

#[test]
fn values_are_raw_utf8_without_url_encoding() {
    let params = loose(pairs(&[
        ("subject", "商品名稱 繁體"),
        ("body", "商品名称 简体"),
        ("notify_url", "https://shop.example.com:8443/alipay/notify"),
        ("show_url", "a b+c%20d'e"),
    ]))
    .unwrap();
    assert_eq!(
        params.pre_sign(),
        "subject=\"商品名稱 繁體\"&body=\"商品名称 简体\"\
         &notify_url=\"https://shop.example.com:8443/alipay/notify\"&show_url=\"a b+c%20d'e\""
    );
}

#[test]
fn empty_values_are_left_out() {
    let params = loose(pairs(&[("a", "1"), ("empty", ""), ("b", "2")])).unwrap();
    assert_eq!(params.pre_sign(), r#"a="1"&b="2""#);
}

#[test]
fn absent_values_are_left_out() {
    let raw = vec![
        ("a".to_string(), text("1")),
        ("gone".to_string(), ParamValue::Absent),
        ("b".to_string(), text("2")),
    ];
    let params = loose(raw).unwrap();
    assert_eq!(params.pre_sign(), r#"a="1"&b="2""#);
}

#[test]
fn a_required_parameter_with_an_empty_value_counts_as_missing() {
    let result = strict(order_with("subject", text("")));
    assert_error(result, ErrorCode::MissingParam, "subject");
}

#[test]
fn method_is_renamed_service_in_the_same_position() {
    let raw = pairs(&[
        ("partner", "2088101568358171"),
        ("method", "mobile.securitypay.pay"),
        ("subject", "x"),
    ]);
    let params = loose(raw).unwrap();
    assert_eq!(
        params.pre_sign(),
        r#"partner="2088101568358171"&service="mobile.securitypay.pay"&subject="x""#
    );
}

#[test]
fn method_and_service_together_are_refused() {
    let mut order = valid_order();
    order.push(("method".into(), text("mobile.securitypay.pay")));
    let err = assert_error(strict(order), ErrorCode::InvalidParam, "method");
    assert!(err.message.contains("service"), "{}", err.message);

    let raw = pairs(&[("method", "x"), ("service", "x")]);
    let err = assert_error(loose(raw), ErrorCode::InvalidParam, "service");
    assert!(err.message.contains("method"), "{}", err.message);
}

#[test]
fn sign_among_the_params_is_refused() {
    let result = strict(order_with("sign", text("abc=")));
    assert_error(result, ErrorCode::InvalidParam, "sign");
    let result = loose(pairs(&[("a", "1"), ("sign", "abc=")]));
    assert_error(result, ErrorCode::InvalidParam, "sign");
}

#[test]
fn sign_type_among_the_params_is_taken_out_of_the_pre_sign_string() {
    let params = strict(order_with("sign_type", text("RSA"))).unwrap();
    assert_eq!(params.declared_sign_type(), Some(SignType::Rsa));
    assert!(!params.pre_sign().contains("sign_type"));
    assert_eq!(params.pre_sign(), MSG_SAMPLE_HANT);

    let params = strict(order_with("sign_type", text("RSA2"))).unwrap();
    assert_eq!(params.declared_sign_type(), Some(SignType::Rsa2));
    let params = strict(valid_order()).unwrap();
    assert_eq!(params.declared_sign_type(), None);
}

#[test]
fn an_unknown_sign_type_among_the_params_is_a_sign_type_error() {
    for bad in ["rsa", "SHA256withRSA", "HMAC"] {
        let result = strict(order_with("sign_type", text(bad)));
        assert_error(result, ErrorCode::SignType, "sign_type");
    }
}
