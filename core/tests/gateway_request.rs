//! Gateway requests (protocol §8.1, §8.3–§8.6): the published MD5 vectors, openssl-signed
//! random parameter sets (gateway_fixtures/requests.json, see make.py), and the rules of each
//! service's table with their coded errors.

use crate::gateway_support;

use alipayhk_pay_core::gateway::request::sign_content;
use alipayhk_pay_core::gateway::{
    build_request, Gateway, GatewayConfig, GmtReturnFormat, HttpMethod, RefundQuery, RefundRequest,
    Service, TradeQuery,
};
use alipayhk_pay_core::{ErrorCode, Md5Key, ParamValue, SignType, Signer};
use gateway_support::*;

fn config(partner: &str) -> GatewayConfig {
    GatewayConfig::new(partner, Gateway::Production).unwrap()
}

fn text(pairs: &[(&str, &str)]) -> Vec<(String, ParamValue)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::Text(v.to_string())))
        .collect()
}

#[test]
fn the_published_md5_vectors() {
    // protocol §8.1: partner 2088101122136241, key 760bdzec6y9goq7ctyx96ezkz78287de.
    let signer = Signer::md5(Md5Key::new("760bdzec6y9goq7ctyx96ezkz78287de").unwrap());
    let mut cfg = config("2088101122136241");
    let query = build_request(
        &cfg,
        Service::SingleTradeQuery,
        text(&[("out_trade_no", "SAMPLE_TRANSACTION_ID")]),
        Some(&signer),
        0,
    )
    .unwrap();
    assert_eq!(
        query.sign_content,
        "_input_charset=utf-8&out_trade_no=SAMPLE_TRANSACTION_ID&partner=2088101122136241&service=single_trade_query"
    );
    assert_eq!(
        query.sign.as_deref(),
        Some("d4d3825356fd0799ee16829acffc1460")
    );
    assert_eq!(
        query.url,
        "https://intlmapi.alipay.com/gateway.do?_input_charset=utf-8&out_trade_no=SAMPLE_TRANSACTION_ID&partner=2088101122136241&service=single_trade_query&sign=d4d3825356fd0799ee16829acffc1460&sign_type=MD5"
    );

    cfg.gmt_return_format = GmtReturnFormat::Compact;
    let refund = build_request(
        &cfg,
        Service::ForexRefund,
        text(&[
            ("out_return_no", "SAMPLE_REFUND_ID"),
            ("out_trade_no", "SAMPLE_TRANSACTION_ID"),
            ("return_rmb_amount", "200.00"),
            ("currency", "USD"),
            ("gmt_return", "20150320120000"),
            ("reason", "hello"),
        ]),
        Some(&signer),
        0,
    )
    .unwrap();
    assert_eq!(
        refund.sign_content,
        "_input_charset=utf-8&currency=USD&gmt_return=20150320120000&out_return_no=SAMPLE_REFUND_ID&out_trade_no=SAMPLE_TRANSACTION_ID&partner=2088101122136241&reason=hello&return_rmb_amount=200.00&service=forex_refund"
    );
    assert_eq!(
        refund.sign.as_deref(),
        Some("a77e894e71491f41e73ebe40319cc300")
    );
    // The same refund at the published instant without gmt_return: the clock gives it.
    let at = build_request(
        &cfg,
        Service::ForexRefund,
        text(&[
            ("out_return_no", "SAMPLE_REFUND_ID"),
            ("out_trade_no", "SAMPLE_TRANSACTION_ID"),
            ("return_rmb_amount", "200.00"),
            ("currency", "USD"),
            ("reason", "hello"),
        ]),
        Some(&signer),
        1_426_824_000, // 2015-03-20 04:00:00 UTC = 12:00:00 GMT+8
    )
    .unwrap();
    assert_eq!(at.sign.as_deref(), Some("a77e894e71491f41e73ebe40319cc300"));
}

/// 48 random parameter sets (12 per service, RSA / RSA2 / MD5, GET and POST, both gmt_return
/// forms), signed by the openssl command line and encoded by Python in make.py.
#[test]
fn random_parameter_sets_sign_as_openssl_does() {
    let cases = fixture("requests.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 48);
    let mut seen = std::collections::HashSet::new();
    for (i, case) in cases.iter().enumerate() {
        let service = Service::parse(case["service"].as_str().unwrap()).unwrap();
        let sign_type = case["sign_type"].as_str().unwrap();
        let mut cfg = config(PARTNER);
        cfg.method = HttpMethod::parse(case["method"].as_str().unwrap()).unwrap();
        cfg.gmt_return_format = match case["gmt_format"].as_str().unwrap() {
            "HK" => GmtReturnFormat::Hk,
            _ => GmtReturnFormat::Compact,
        };
        seen.insert((service.as_str(), sign_type, cfg.method.as_str()));
        let params: Vec<(String, ParamValue)> = pair_list(&case["params"])
            .into_iter()
            .map(|(k, v)| (k, ParamValue::Text(v)))
            .collect();
        let signer = (!sign_type.is_empty())
            .then(|| merchant_signer(alipayhk_pay_core::SignType::parse(sign_type).unwrap()));
        let req = build_request(&cfg, service, params, signer.as_ref(), 0)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(
            req.sign_content,
            case["content"].as_str().unwrap(),
            "case {i}"
        );
        assert_eq!(req.sign.as_deref(), case["sign"].as_str(), "case {i}");
        assert_eq!(req.params, pair_list(&case["sent"]), "case {i}");
        assert_eq!(req.url, case["url"].as_str().unwrap(), "case {i}");
        assert_eq!(req.body.as_deref(), case["body"].as_str(), "case {i}");
        assert_eq!(req.method.as_str(), case["method"].as_str().unwrap());
        if req.method == HttpMethod::Post {
            assert!(req.headers.iter().any(|(k, v)| k == "Content-Type"
                && v == "application/x-www-form-urlencoded; charset=utf-8"));
        } else {
            assert!(!req.headers.iter().any(|(k, _)| k == "Content-Type"));
        }
    }
    // Every service with each of its sign types was among them.
    for s in [
        "single_trade_query",
        "forex_refund",
        "alipay.acquire.refund.query",
    ] {
        for t in ["RSA", "RSA2", "MD5"] {
            assert!(
                seen.iter().any(|(a, b, _)| *a == s && *b == t),
                "{s} {t} not covered"
            );
        }
    }
}

#[test]
fn the_typed_requests() {
    let cfg = config(PARTNER);
    let signer = merchant_signer(SignType::Rsa2);
    let q = build_request(
        &cfg,
        Service::SingleTradeQuery,
        TradeQuery {
            out_trade_no: Some("ORDER-1".into()),
            trade_no: None,
        }
        .params(),
        Some(&signer),
        0,
    )
    .unwrap();
    assert_eq!(q.param("out_trade_no"), Some("ORDER-1"));
    assert_eq!(q.param("trade_no"), None);
    assert_eq!(q.sign_type, Some(SignType::Rsa2));
    assert_eq!(q.param("sign_type"), Some("RSA2"));
    // The signature is the one the test computes itself, over the test's own string.
    assert_eq!(
        q.sign.as_deref().unwrap(),
        sign_with(
            "_input_charset=utf-8&out_trade_no=ORDER-1&partner=2088101568358171&service=single_trade_query",
            SignType::Rsa2,
            true
        )
    );

    let r = build_request(
        &cfg,
        Service::ForexRefund,
        RefundRequest {
            out_trade_no: "ORDER-1".into(),
            out_return_no: "REFUND-1".into(),
            amount: "5.00".into(),
            currency: None,
            reason: "退款 partial".into(),
            gmt_return: None,
            is_sync: Some(true),
            notify_url: None,
        }
        .params(),
        Some(&signer),
        1_709_136_000, // 2024-02-29 00:00:00 GMT+8
    )
    .unwrap();
    assert_eq!(r.param("currency"), Some("HKD"));
    assert_eq!(r.param("gmt_return"), Some("2024-02-29 00:00:00"));
    assert_eq!(r.param("is_sync"), Some("Y"));
    assert_eq!(r.param("return_amount"), Some("5.00"));
    assert!(r.url.contains("gmt_return=2024-02-29%2000%3A00%3A00"));
    assert!(r.url.contains("reason=%E9%80%80%E6%AC%BE%20partial"));
    assert_eq!(sign_content(&r.params), r.sign_content);

    let rq = build_request(
        &cfg,
        Service::RefundQuery,
        RefundQuery {
            out_trade_no: "ORDER-1".into(),
            out_return_no: "R".repeat(128),
        }
        .params(),
        Some(&signer),
        0,
    )
    .unwrap();
    assert_eq!(rq.param("service"), Some("alipay.acquire.refund.query"));

    // notify_verify is unsigned, with or without a signer given.
    for s in [None, Some(&signer)] {
        let nv = build_request(
            &cfg,
            Service::NotifyVerify,
            text(&[("notify_id", "RqPnCoPT3K9/vwbh3Ih30+x")]),
            s,
            0,
        )
        .unwrap();
        assert_eq!(nv.sign, None);
        assert_eq!(nv.param("sign"), None);
        assert_eq!(nv.sign_content, "");
        assert_eq!(
            nv.url,
            "https://intlmapi.alipay.com/gateway.do?_input_charset=utf-8&notify_id=RqPnCoPT3K9%2Fvwbh3Ih30%2Bx&partner=2088101568358171&service=notify_verify"
        );
    }
}

#[test]
fn gateways_and_methods() {
    let signer = merchant_signer(SignType::Md5);
    let params = || text(&[("out_trade_no", "A")]);
    for (gateway, prefix) in [
        (Gateway::Sandbox, "https://mapi.alipaydev.com/gateway.do?"),
        (
            Gateway::parse("http://127.0.0.1:4000/gateway.do").unwrap(),
            "http://127.0.0.1:4000/gateway.do?",
        ),
        (
            Gateway::parse("https://gw.example.com/gateway.do?_input_charset=utf-8").unwrap(),
            "https://gw.example.com/gateway.do?_input_charset=utf-8&",
        ),
    ] {
        let mut cfg = GatewayConfig::new(PARTNER, gateway).unwrap();
        let get =
            build_request(&cfg, Service::SingleTradeQuery, params(), Some(&signer), 0).unwrap();
        assert!(get.url.starts_with(prefix), "{}", get.url);
        assert_eq!(get.body, None);
        cfg.method = HttpMethod::Post;
        let post =
            build_request(&cfg, Service::SingleTradeQuery, params(), Some(&signer), 0).unwrap();
        assert_eq!(post.url, format!("{prefix}_input_charset=utf-8"));
        assert_eq!(
            post.body.as_deref(),
            get.url.strip_prefix(prefix),
            "the body is GET's query"
        );
    }
    let e = GatewayConfig::new("2088", Gateway::Production).unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidParam, Some("partner"))
    );
}

fn refund_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("out_return_no", "REFUND-1"),
        ("out_trade_no", "ORDER-1"),
        ("return_amount", "10.00"),
        ("currency", "HKD"),
        ("reason", "damaged"),
    ]
}

fn refund_with(name: &str, value: Option<&str>) -> Vec<(String, ParamValue)> {
    let mut list: Vec<(String, ParamValue)> = refund_params()
        .into_iter()
        .filter(|(k, _)| *k != name)
        .map(|(k, v)| (k.to_owned(), ParamValue::Text(v.to_owned())))
        .collect();
    if let Some(v) = value {
        list.push((name.to_owned(), ParamValue::Text(v.to_owned())));
    }
    list
}

fn refund_error(list: Vec<(String, ParamValue)>) -> (ErrorCode, Option<String>, String) {
    let cfg = config(PARTNER);
    let e = build_request(
        &cfg,
        Service::ForexRefund,
        list,
        Some(&merchant_signer(SignType::Md5)),
        0,
    )
    .unwrap_err();
    (e.code, e.field, e.message)
}

#[test]
fn refund_rules() {
    use ErrorCode::{InvalidParam as Invalid, MissingParam as Missing};
    let ok = |name: &str, v: &str| {
        let cfg = config(PARTNER);
        build_request(
            &cfg,
            Service::ForexRefund,
            refund_with(name, Some(v)),
            Some(&merchant_signer(SignType::Md5)),
            0,
        )
        .unwrap_or_else(|e| panic!("{name}={v:?}: {e}"));
    };
    for (name, value) in [
        ("return_amount", "0.01"),
        ("return_amount", "1000000.00"),
        ("return_amount", "1000000"),
        ("return_amount", "7.5"),
        ("reason", &"理".repeat(100)),
        (
            "reason",
            "R&D = 100% \"-free\"".trim_end_matches("\"-free\""),
        ),
        ("out_return_no", &"a".repeat(64)),
        ("gmt_return", "2024-02-29 23:59:59"),
        ("is_sync", "N"),
        ("notify_url", "https://shop.example.com/alipay/refund"),
    ] {
        ok(name, value);
    }
    for (name, value, code) in [
        ("return_amount", Some("0.00"), Invalid),
        ("return_amount", Some("0.001"), Invalid),
        ("return_amount", Some("1000000.01"), Invalid),
        ("return_amount", Some("-1"), Invalid),
        ("return_amount", Some("1e3"), Invalid),
        ("return_amount", Some("01.00"), Invalid),
        ("return_amount", None, Missing),
        ("reason", Some(&"理".repeat(101)), Invalid),
        ("reason", None, Missing),
        ("reason", Some("say \"hi\""), Invalid),
        ("reason", Some("line\nbreak"), Invalid),
        ("out_return_no", Some(&"a".repeat(65)), Invalid),
        ("out_return_no", Some("has space"), Invalid),
        ("out_return_no", None, Missing),
        ("out_trade_no", None, Missing),
        ("currency", Some("hkd"), Invalid),
        ("currency", None, Missing),
        ("gmt_return", Some("20240229235959"), Invalid),
        ("gmt_return", Some("2023-02-29 00:00:00"), Invalid),
        ("is_sync", Some("yes"), Invalid),
        ("notify_url", Some("ftp://x"), Invalid),
        (
            "notify_url",
            Some(&format!("https://a.example/{}", "p".repeat(190))),
            Invalid,
        ),
        ("return_rmb_amount", Some("1.00"), Invalid),
        ("unknown_param", Some("x"), Invalid),
        ("sign", Some("x"), Invalid),
        ("sign_type", Some("MD5"), Invalid),
        ("partner", Some("2088000000000000"), Invalid),
        ("service", Some("single_trade_query"), Invalid),
        ("_input_charset", Some("gbk"), Invalid),
        ("bad-name", Some("x"), Invalid),
    ] {
        let (c, field, message) = refund_error(refund_with(name, value));
        let expect_field = if name == "return_rmb_amount" {
            "return_rmb_amount"
        } else {
            name
        };
        assert_eq!(c, code, "{name}={value:?}: {message}");
        assert_eq!(
            field.as_deref(),
            Some(expect_field),
            "{name}={value:?}: {message}"
        );
        assert!(!message.is_empty());
    }
    // Both gmt_return forms, each under its own setting.
    let mut cfg = config(PARTNER);
    cfg.gmt_return_format = GmtReturnFormat::Compact;
    build_request(
        &cfg,
        Service::ForexRefund,
        refund_with("gmt_return", Some("20240229235959")),
        Some(&merchant_signer(SignType::Md5)),
        0,
    )
    .unwrap();
    // The matching values of service / partner / _input_charset may be given.
    let mut same = refund_with("partner", Some(PARTNER));
    same.push(("_input_charset".into(), ParamValue::Text("UTF-8".into())));
    same.push(("service".into(), ParamValue::Text("forex_refund".into())));
    let r = build_request(
        &config(PARTNER),
        Service::ForexRefund,
        same,
        Some(&merchant_signer(SignType::Md5)),
        0,
    )
    .unwrap();
    assert_eq!(r.param("_input_charset"), Some("utf-8"));
    // Numbers are amounts only.
    let mut numeric = refund_with("return_amount", None);
    numeric.push(("return_amount".into(), ParamValue::Number("12.5".into())));
    assert!(build_request(
        &config(PARTNER),
        Service::ForexRefund,
        numeric,
        Some(&merchant_signer(SignType::Md5)),
        0
    )
    .is_ok());
    let mut numeric = refund_with("reason", None);
    numeric.push(("reason".into(), ParamValue::Number("1".into())));
    assert_eq!(refund_error(numeric).0, Invalid);
    let mut twice = refund_with("reason", Some("a"));
    twice.push(("reason".into(), ParamValue::Text("b".into())));
    assert_eq!(refund_error(twice).1.as_deref(), Some("reason"));
}

#[test]
fn other_service_rules() {
    let cfg = config(PARTNER);
    let signer = merchant_signer(SignType::Rsa);
    let err = |service, list: &[(&str, &str)]| {
        build_request(&cfg, service, text(list), Some(&signer), 0).unwrap_err()
    };
    let e = err(Service::SingleTradeQuery, &[]);
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::MissingParam, Some("out_trade_no"))
    );
    let e = err(Service::SingleTradeQuery, &[("out_trade_no", "")]);
    assert_eq!(
        e.code,
        ErrorCode::MissingParam,
        "an empty value is left out"
    );
    let both = build_request(
        &cfg,
        Service::SingleTradeQuery,
        text(&[
            ("out_trade_no", "A"),
            ("trade_no", "2024050221001003140213828085"),
        ]),
        Some(&signer),
        0,
    )
    .unwrap();
    assert!(both
        .sign_content
        .starts_with("_input_charset=utf-8&out_trade_no=A&partner="));
    let e = err(Service::RefundQuery, &[("out_trade_no", "A")]);
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::MissingParam, Some("out_return_no"))
    );
    let e = err(
        Service::RefundQuery,
        &[("out_trade_no", "A"), ("out_return_no", &"r".repeat(129))],
    );
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidParam, Some("out_return_no"))
    );
    let e = err(Service::NotifyVerify, &[]);
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::MissingParam, Some("notify_id"))
    );
    let e = err(
        Service::RefundQuery,
        &[("out_trade_no", "A"), ("reason", "x")],
    );
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidParam, Some("reason"))
    );
    // A signed service without a key.
    let e = build_request(
        &cfg,
        Service::SingleTradeQuery,
        text(&[("out_trade_no", "A")]),
        None,
        0,
    )
    .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidArgument, Some("key"))
    );
}
