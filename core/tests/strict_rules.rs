//! The strict rules: docs/protocol.md §2, the AlipayHK request parameters, row by row.
//! Each test starts from a complete valid order and changes one thing.

use crate::common;

use alipayhk_pay_core::{ErrorCode, ParamValue};
use common::*;

#[test]
fn the_valid_order_passes_every_strict_rule() {
    let params = strict(valid_order()).unwrap();
    assert_eq!(params.pre_sign(), MSG_SAMPLE_HANT);
}

// --- Required parameters ------------------------------------------------------------------

macro_rules! required {
    ($($test:ident: $name:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            let err = assert_error(strict(order_without($name)), ErrorCode::MissingParam, $name);
            assert!(err.message.contains("required"), "{}", err.message);
        }
    )*};
}

required! {
    service_is_required: "service",
    partner_is_required: "partner",
    seller_id_is_required: "seller_id",
    input_charset_is_required: "_input_charset",
    payment_type_is_required: "payment_type",
    out_trade_no_is_required: "out_trade_no",
    subject_is_required: "subject",
    currency_is_required: "currency",
    forex_biz_is_required: "forex_biz",
    product_code_is_required: "product_code",
    notify_url_is_required: "notify_url",
}

#[test]
fn an_absent_required_parameter_is_missing() {
    let result = strict(order_with("partner", ParamValue::Absent));
    assert_error(result, ErrorCode::MissingParam, "partner");
}

#[test]
fn body_payment_inst_return_url_and_it_b_pay_are_optional() {
    let mut order = valid_order();
    order
        .retain(|(k, _)| !["body", "payment_inst", "return_url", "it_b_pay"].contains(&k.as_str()));
    assert!(strict(order).is_ok());
}

#[test]
fn pass_through_parameters_are_accepted() {
    let mut order = valid_order();
    for (k, v) in [
        ("appenv", "system=android^version=10.1.5"),
        ("secondary_merchant_id", "SM-0001"),
        ("secondary_merchant_name", "九龍茶餐廳"),
        ("secondary_merchant_industry", "5812"),
        (
            "trade_information",
            r#"{"business_type":"4","goods_info":"tea^2"}"#,
        ),
        ("show_url", "https://shop.example.com/item/1"),
        ("extern_token", "token_123"),
    ] {
        order.push((k.into(), text(v)));
    }
    assert!(strict(order).is_ok());
}

// --- service, partner, seller_id, _input_charset, payment_type ----------------------------

#[test]
fn service_is_exactly_mobile_securitypay_pay() {
    for bad in [
        "alipay.trade.app.pay",
        "MOBILE.SECURITYPAY.PAY",
        "mobile.securitypay.pay ",
    ] {
        assert_strict_refuses("service", bad);
    }
}

#[test]
fn a_wrong_method_value_is_reported_as_service() {
    let mut order = valid_order();
    order[0] = ("method".into(), text("alipay.trade.pay"));
    assert_error(strict(order), ErrorCode::InvalidParam, "service");
}

#[test]
fn partner_is_16_digits_starting_with_2088() {
    assert_strict_accepts("partner", "2088000000000000");
    for bad in [
        "208810156835817",   // 15 digits
        "20881015683581711", // 17 digits
        "2089101568358171",  // not 2088
        "1088101568358171",
        "2088IO1568358171",
        "２０８８101568358171", // full-width digits
    ] {
        assert_strict_refuses("partner", bad);
    }
}

#[test]
fn seller_id_is_at_most_100_characters() {
    assert_strict_accepts("seller_id", "merchant@example.com");
    assert_strict_accepts("seller_id", "85291234567");
    assert_strict_accepts("seller_id", &"a".repeat(100));
    let err = assert_strict_refuses("seller_id", &"a".repeat(101));
    assert!(err.message.contains("100"), "{}", err.message);
}

#[test]
fn input_charset_is_utf_8_in_any_case() {
    for good in ["utf-8", "UTF-8", "Utf-8"] {
        assert_strict_accepts("_input_charset", good);
    }
    for bad in ["utf8", "gbk", "big5", "utf-16"] {
        assert_strict_refuses("_input_charset", bad);
    }
}

#[test]
fn payment_type_is_exactly_1() {
    for bad in ["2", "01", "1.0", " 1"] {
        assert_strict_refuses("payment_type", bad);
    }
}

// --- out_trade_no, subject, body ----------------------------------------------------------

#[test]
fn out_trade_no_uses_letters_digits_underscore_and_hyphen() {
    assert_strict_accepts("out_trade_no", "A-z_09");
    assert_strict_accepts("out_trade_no", "1");
    for bad in [
        "ORDER 1", "ORDER.1", "ORDER/1", "訂單1", "ORDER#1", "ORDER+1",
    ] {
        assert_strict_refuses("out_trade_no", bad);
    }
}

#[test]
fn out_trade_no_is_at_most_64_characters() {
    assert_strict_accepts("out_trade_no", &"A".repeat(64));
    let err = assert_strict_refuses("out_trade_no", &"A".repeat(65));
    assert!(err.message.contains("64"), "{}", err.message);
}

#[test]
fn subject_is_at_most_256_characters_counting_chinese_as_one() {
    assert_strict_accepts("subject", &"商".repeat(256));
    assert_strict_accepts("subject", &"s".repeat(256));
    assert_strict_accepts(
        "subject",
        &format!("{}{}", "商".repeat(128), "s".repeat(128)),
    );
    let err = assert_strict_refuses("subject", &"商".repeat(257));
    assert!(err.message.contains("256"), "{}", err.message);
    assert_strict_refuses("subject", &"s".repeat(257));
}

#[test]
fn body_is_at_most_400_characters_counting_chinese_as_one() {
    assert_strict_accepts("body", &"描".repeat(400));
    let err = assert_strict_refuses("body", &"描".repeat(401));
    assert!(err.message.contains("400"), "{}", err.message);
    assert_strict_refuses("body", &"d".repeat(401));
}

// --- Amounts -------------------------------------------------------------------------------

#[test]
fn total_fee_is_a_decimal_from_0_01_to_1000000_00_with_at_most_2_fraction_digits() {
    for good in [
        "0.01",
        "0.1",
        "1",
        "12.5",
        "12.50",
        "999999.99",
        "1000000",
        "1000000.00",
    ] {
        assert_strict_accepts("total_fee", good);
    }
}

#[test]
fn total_fee_out_of_range_is_refused() {
    for bad in [
        "0",
        "0.00",
        "0.0",
        "1000000.01",
        "1000001",
        "99999999999999999999",
    ] {
        assert_strict_refuses("total_fee", bad);
    }
}

#[test]
fn total_fee_in_another_format_is_refused() {
    for bad in [
        "01.5", "1.", ".5", "1,000", "0.123", "-1", "+1", "1e3", " 1", "1 ", "HK$1", "1.5.0", "１",
    ] {
        assert_strict_refuses("total_fee", bad);
    }
}

#[test]
fn rmb_fee_alone_is_accepted_and_follows_the_same_rule() {
    let mut order = order_without("total_fee");
    order.push(("rmb_fee".into(), text("0.1")));
    assert!(strict(order).is_ok());

    for bad in ["0", "1000000.01", "0.123", "01.5"] {
        let mut order = order_without("total_fee");
        order.push(("rmb_fee".into(), text(bad)));
        assert_error(strict(order), ErrorCode::InvalidParam, "rmb_fee");
    }
}

#[test]
fn total_fee_and_rmb_fee_together_are_refused() {
    let err = strict(order_with("rmb_fee", text("0.1"))).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParam, "{err:?}");
    let field = err.field.clone().unwrap_or_default();
    assert!(field == "total_fee" || field == "rmb_fee", "{err:?}");
    assert!(
        err.message.contains("total_fee") && err.message.contains("rmb_fee"),
        "{}",
        err.message
    );
}

#[test]
fn an_amount_is_required_total_fee_or_rmb_fee() {
    let err = assert_error(
        strict(order_without("total_fee")),
        ErrorCode::MissingParam,
        "total_fee",
    );
    assert!(err.message.contains("rmb_fee"), "{}", err.message);
    // rmb_fee is the amount in CNY, total_fee the amount in `currency`: if the message says
    // which is in CNY, it must say rmb_fee.
    if let Some(cny) = err.message.find("CNY") {
        let before = &err.message[..cny];
        assert!(
            before.rfind("rmb_fee") > before.rfind("total_fee"),
            "the message attributes CNY to total_fee: {}",
            err.message
        );
    }
}

// --- currency, forex_biz, product_code, payment_inst ---------------------------------------

#[test]
fn currency_is_three_capital_letters() {
    for good in ["HKD", "CNY", "USD"] {
        assert_strict_accepts("currency", good);
    }
    for bad in ["hkd", "Hkd", "HKDD", "HK", "HK1"] {
        assert_strict_refuses("currency", bad);
    }
}

#[test]
fn forex_biz_is_exactly_fp() {
    for bad in ["fp", "FX", "FP1"] {
        assert_strict_refuses("forex_biz", bad);
    }
}

#[test]
fn product_code_is_exactly_new_wap_overseas_seller() {
    for bad in [
        "QUICK_MSECURITY_PAY",
        "new_wap_overseas_seller",
        "NEW_WAP_OVERSEAS_SELLER_",
    ] {
        assert_strict_refuses("product_code", bad);
    }
}

#[test]
fn payment_inst_is_alipayhk_or_alipaycn() {
    assert_strict_accepts("payment_inst", "ALIPAYHK");
    assert_strict_accepts("payment_inst", "ALIPAYCN");
    for bad in ["alipayhk", "ALIPAY", "ALIPAYHK,ALIPAYCN"] {
        assert_strict_refuses("payment_inst", bad);
    }
}

// --- URLs ----------------------------------------------------------------------------------

#[test]
fn notify_url_is_an_absolute_http_or_https_url() {
    for good in [
        "http://www.xxx.com",
        "https://shop.example.com/alipay/notify",
        "https://shop.example.com:8443/alipay/notify",
        "HTTPS://SHOP.EXAMPLE.COM/notify",
    ] {
        assert_strict_accepts("notify_url", good);
    }
}

#[test]
fn notify_url_refuses_relative_other_scheme_and_hostless_urls() {
    for bad in [
        "/alipay/notify",
        "shop.example.com/alipay/notify",
        "ftp://shop.example.com/notify",
        "javascript:alert(1)",
        "http://",
        "https:///notify",
        "http://:8080/notify",
        "http://shop example.com/notify",
    ] {
        assert_strict_refuses("notify_url", bad);
    }
}

#[test]
fn notify_url_is_at_most_200_characters() {
    let base = "https://shop.example.com/";
    assert_strict_accepts(
        "notify_url",
        &format!("{base}{}", "n".repeat(200 - base.len())),
    );
    let err = assert_strict_refuses(
        "notify_url",
        &format!("{base}{}", "n".repeat(201 - base.len())),
    );
    assert!(err.message.contains("200"), "{}", err.message);
}

#[test]
fn return_url_is_free_text_of_at_most_200_characters() {
    assert_strict_accepts("return_url", "m.alipay.com");
    assert_strict_accepts("return_url", &"r".repeat(200));
    let err = assert_strict_refuses("return_url", &"r".repeat(201));
    assert!(err.message.contains("200"), "{}", err.message);
}

// --- it_b_pay --------------------------------------------------------------------------------

#[test]
fn it_b_pay_is_a_whole_number_of_m_h_or_d_from_1m_to_15d_or_1c() {
    for good in [
        "1m", "30m", "90m", "1h", "360h", "1d", "15d", "21600m", "1c",
    ] {
        assert_strict_accepts("it_b_pay", good);
    }
}

#[test]
fn it_b_pay_refuses_decimals_zero_leading_zeros_and_more_than_15d() {
    for bad in [
        "1.5h", "0m", "0d", "030m", "16d", "361h", "21601m", "30", "m", "2c", "0c", "30M", "30s",
        "-5m", "1 m",
    ] {
        assert_strict_refuses("it_b_pay", bad);
    }
}

// --- secondary_merchant_industry, trade_information -------------------------------------------

#[test]
fn secondary_merchant_industry_is_4_digits() {
    assert_strict_accepts("secondary_merchant_industry", "5812");
    for bad in ["581", "58120", "58a2", "５８１２"] {
        assert_strict_refuses("secondary_merchant_industry", bad);
    }
}

#[test]
fn trade_information_is_a_json_text() {
    assert_strict_accepts("trade_information", r#"{"business_type":"4"}"#);
    assert_strict_accepts("trade_information", "[1,2]");
    for bad in ["{business_type:4}", "not json", r#"{"a":"#, "{'a':'b'}"] {
        assert_strict_refuses("trade_information", bad);
    }
}

// --- Names outside the table, and `&` --------------------------------------------------------

#[test]
fn an_unknown_parameter_is_refused_in_strict_mode() {
    let err = assert_strict_refuses("notify_uri", "https://shop.example.com/n");
    assert!(err.message.contains("strict"), "{}", err.message);
}

#[test]
fn an_unknown_parameter_is_allowed_with_strict_false() {
    let params = loose(order_with("notify_uri", text("https://x.example/n"))).unwrap();
    assert!(params
        .pre_sign()
        .ends_with(r#"&notify_uri="https://x.example/n""#));
}

#[test]
fn an_ampersand_in_a_value_is_refused_in_strict_mode() {
    assert_strict_refuses("subject", "tea & cake");
    assert_strict_refuses("body", "a&b");
    assert_strict_refuses("notify_url", "https://shop.example.com/notify?a=1&b=2");
}

#[test]
fn an_ampersand_in_a_value_is_allowed_with_strict_false() {
    let params = loose(order_with("subject", text("tea & cake"))).unwrap();
    assert!(params.pre_sign().contains(r#"&subject="tea & cake"&"#));
}

#[test]
fn with_strict_false_the_safety_rules_still_apply_to_values_with_an_ampersand() {
    assert_error(
        loose(order_with("subject", text("tea\"&cake"))),
        ErrorCode::InvalidParam,
        "subject",
    );
    assert_error(
        loose(order_with("subject", text("tea &\ncake"))),
        ErrorCode::InvalidParam,
        "subject",
    );
}

#[test]
fn with_strict_false_the_section_2_rules_do_not_apply() {
    let mut order = order_without("notify_url");
    order.push(("payment_type_extra".into(), text("x")));
    let order: Vec<_> = order
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "currency" => (k, text("hkd")),
            "it_b_pay" => (k, text("1.5h")),
            _ => (k, v),
        })
        .collect();
    assert!(strict(order.clone()).is_err());
    assert!(loose(order).is_ok());
}
