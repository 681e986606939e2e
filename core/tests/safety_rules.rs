//! The safety rules: they keep `key="value"&…` unambiguous, so they hold with `strict: false`
//! as well as with `strict: true` (docs/protocol.md §3.3, "No escaping").

use crate::common;

use alipayhk_pay_core::params::amount_cents;
use alipayhk_pay_core::{ErrorCode, ParamValue};
use common::*;

/// A small order for the loose (strict: false) checks.
fn loose_with(name: &str, value: ParamValue) -> Vec<(String, ParamValue)> {
    vec![
        ("partner".to_string(), text("2088101568358171")),
        (name.to_string(), value),
    ]
}

/// Expects the same InvalidParam error on `field` with strict on and off.
#[track_caller]
fn assert_refused_in_both_modes(name: &str, value: ParamValue, field: &str) {
    assert_error(
        loose(loose_with(name, value.clone())),
        ErrorCode::InvalidParam,
        field,
    );
    assert_error(
        strict(order_with(name, value)),
        ErrorCode::InvalidParam,
        field,
    );
}

#[test]
fn a_name_is_a_letter_or_underscore_then_letters_digits_or_underscores() {
    for good in ["a", "_x", "Zed", "a1_b2", "_input_charset"] {
        assert!(
            loose(loose_with(good, text("v"))).is_ok(),
            "{good:?} should be a valid name"
        );
    }
    for bad in ["1a", "a-b", "a b", "é", "a.b", "a=b", "a&b"] {
        assert_refused_in_both_modes(bad, text("v"), bad);
    }
}

#[test]
fn an_empty_name_is_refused() {
    let err = assert_error(
        loose(loose_with("", text("v"))),
        ErrorCode::InvalidParam,
        "",
    );
    assert!(err.message.contains("name"), "{}", err.message);
}

#[test]
fn a_bad_name_is_refused_even_when_its_value_is_absent() {
    assert_error(
        loose(loose_with("a-b", ParamValue::Absent)),
        ErrorCode::InvalidParam,
        "a-b",
    );
}

#[test]
fn a_double_quote_in_a_value_is_refused() {
    assert_refused_in_both_modes("subject", text("the \"best\" tea"), "subject");
    assert_refused_in_both_modes("subject", text("\""), "subject");
}

#[test]
fn trade_information_may_hold_json_double_quotes() {
    let json = r#"{"business_type":"4","goods_info":"tea^2|cake^1","total_quantity":"3"}"#;
    let params = loose(loose_with("trade_information", text(json))).unwrap();
    assert!(params
        .pre_sign()
        .ends_with(&format!("&trade_information=\"{json}\"")));
    assert!(strict(order_with("trade_information", text(json))).is_ok());
}

#[test]
fn trade_information_may_not_hold_quote_ampersand() {
    assert_refused_in_both_modes(
        "trade_information",
        text(r#"{"a":"x"&b="y"}"#),
        "trade_information",
    );
    // With strict: false, `&` alone is fine in the JSON; only `"&` would end the value early.
    assert!(loose(loose_with("trade_information", text(r#"{"a":"x&y"}"#))).is_ok());
    assert_error(
        loose(loose_with("trade_information", text(r#"{"a":"x"&}"#))),
        ErrorCode::InvalidParam,
        "trade_information",
    );
}

#[test]
fn control_characters_in_a_value_are_refused() {
    for bad in [
        "line\nbreak",
        "nul\0",
        "del\x7f",
        "cr\r",
        "tab\t",
        "\x1b[31m",
    ] {
        assert_refused_in_both_modes("subject", text(bad), "subject");
    }
    // Including in the JSON parameter.
    assert_refused_in_both_modes(
        "trade_information",
        text("{\"a\":\n\"b\"}"),
        "trade_information",
    );
}

#[test]
fn a_lone_surrogate_is_refused() {
    assert_refused_in_both_modes("subject", ParamValue::LoneSurrogate, "subject");
}

#[test]
fn a_value_of_an_unsupported_type_is_refused() {
    let err = assert_error(
        loose(loose_with("subject", ParamValue::Unsupported("boolean"))),
        ErrorCode::InvalidParam,
        "subject",
    );
    assert!(err.message.contains("boolean"), "{}", err.message);
    assert_error(
        strict(order_with("body", ParamValue::Unsupported("object"))),
        ErrorCode::InvalidParam,
        "body",
    );
}

#[test]
fn a_number_is_accepted_for_total_fee_and_rmb_fee() {
    let params = loose(loose_with("total_fee", ParamValue::Number("0.1".into()))).unwrap();
    assert_eq!(
        params.pre_sign(),
        r#"partner="2088101568358171"&total_fee="0.1""#
    );
    let params = loose(loose_with("rmb_fee", ParamValue::Number("12".into()))).unwrap();
    assert!(params.pre_sign().ends_with(r#"&rmb_fee="12""#));
    assert!(strict(order_with("total_fee", ParamValue::Number("99.95".into()))).is_ok());
}

#[test]
fn a_number_is_refused_for_any_other_parameter() {
    for name in ["subject", "payment_type", "out_trade_no", "partner"] {
        assert_refused_in_both_modes(name, ParamValue::Number("1".into()), name);
    }
}

#[test]
fn a_number_amount_has_at_most_two_decimals_no_sign_and_no_exponent() {
    for bad in ["0.123", "1e+21", "1e-7", "NaN", "Infinity", "-1"] {
        for name in ["total_fee", "rmb_fee"] {
            assert_error(
                loose(loose_with(name, ParamValue::Number(bad.into()))),
                ErrorCode::InvalidParam,
                name,
            );
        }
        assert_error(
            strict(order_with("total_fee", ParamValue::Number(bad.into()))),
            ErrorCode::InvalidParam,
            "total_fee",
        );
    }
}

#[test]
fn amount_cents_reads_a_decimal_with_up_to_two_fraction_digits() {
    assert_eq!(amount_cents("0.1"), Some(10));
    assert_eq!(amount_cents("0.01"), Some(1));
    assert_eq!(amount_cents("12"), Some(1200));
    assert_eq!(amount_cents("12.5"), Some(1250));
    assert_eq!(amount_cents("12.50"), Some(1250));
    assert_eq!(amount_cents("1000000.00"), Some(100_000_000));
    assert_eq!(amount_cents("0"), Some(0));
    for bad in [
        "", "1.", ".5", "01.5", "0.123", "-1", "+1", "1e3", "1,000", " 1", "1 ", "NaN",
    ] {
        assert_eq!(amount_cents(bad), None, "{bad:?}");
    }
}

#[test]
fn a_name_may_appear_only_once() {
    let raw = vec![
        ("partner".to_string(), text("2088101568358171")),
        ("subject".to_string(), text("a")),
        ("subject".to_string(), text("b")),
    ];
    let err = assert_error(loose(raw), ErrorCode::InvalidParam, "subject");
    assert!(err.message.contains("twice"), "{}", err.message);
}

#[test]
fn the_seeds_sample_with_payment_type_twice_is_refused() {
    let mut order = valid_order();
    order.push(("payment_type".into(), text("1")));
    assert_error(
        strict(order.clone()),
        ErrorCode::InvalidParam,
        "payment_type",
    );
    assert_error(loose(order), ErrorCode::InvalidParam, "payment_type");
}
