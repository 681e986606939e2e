//! Refund notifications (protocol §8.4: `notify_type=refund_status_sync`, verified like a
//! payment notification) told apart from payment notifications, and the `notify_verify`
//! answer (protocol §8.6).

use crate::gateway_support;

use alipayhk_pay_core::gateway::{
    parse_notify_verify_reply, refund_notification, NotifyVerifyOutcome, RefundNotifyResult,
};
use alipayhk_pay_core::notify::{is_paid, notify_kind, verify_notify_body, NotifyKind};
use alipayhk_pay_core::sign::encode_uri_component;
use alipayhk_pay_core::{ErrorCode, SignType};
use gateway_support::*;

/// A form body of `fields` with `sign` and `sign_type` computed here (sorted `name=value`,
/// empty values left out; `rsa` / `md-5` crates directly), `+` for spaces as a browser sends.
fn signed_body(fields: &[(String, String)], t: SignType) -> Vec<u8> {
    let sign = alipay_sign(&content_of(fields), t);
    let mut all = fields.to_vec();
    all.push(("sign".into(), sign));
    all.push(("sign_type".into(), t.as_str().into()));
    all.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_uri_component(k).replace("%20", "+"),
                encode_uri_component(v).replace("%20", "+")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn refund_fields(status: &str) -> Vec<(String, String)> {
    pairs(&[
        ("notify_id", "RqPnCoPT3K9/vwbh3Ih30+xzJhq2hZ3t"),
        ("notify_time", "2024-05-03 10:00:05"),
        ("notify_type", "refund_status_sync"),
        ("out_trade_no", "ORDER-1"),
        ("out_return_no", "REFUND-1"),
        ("refund_status", status),
        ("return_amount", "5.00"),
        ("currency", "HKD"),
        (
            "error_code",
            if status == "REFUND_FAIL" {
                "MERCHANT_BALANCE_NOT_ENOUGH"
            } else {
                ""
            },
        ),
    ])
}

fn payment_fields() -> Vec<(String, String)> {
    pairs(&[
        ("notify_id", "abc"),
        ("notify_type", "trade_status_sync"),
        ("notify_time", "2024-05-02 14:41:31"),
        ("out_trade_no", "ORDER-1"),
        ("trade_no", "2024050221001003140213828085"),
        ("trade_status", "TRADE_FINISHED"),
        ("total_fee", "12.50"),
        ("currency", "HKD"),
    ])
}

#[test]
fn refund_notifications_verify_and_read_as_refunds() {
    for t in [SignType::Rsa, SignType::Rsa2, SignType::Md5] {
        let key = if t == SignType::Md5 {
            md5_key()
        } else {
            alipay_key()
        };
        for (status, result) in [
            ("REFUND_SUCCESS", RefundNotifyResult::Success),
            ("REFUND_FAIL", RefundNotifyResult::Fail),
        ] {
            let v = verify_notify_body(&signed_body(&refund_fields(status), t), &key);
            assert!(v.ok(), "{t} {status}: {:?}", v.failure);
            assert_eq!(v.kind(), NotifyKind::Refund);
            assert!(
                !is_paid(&v.params),
                "a refund notification is never a payment"
            );
            let r = refund_notification(&v).unwrap();
            assert_eq!(r.result, result);
            assert_eq!(
                r.result.as_str(),
                if status == "REFUND_SUCCESS" {
                    "SUCCESS"
                } else {
                    "FAIL"
                }
            );
            assert_eq!(
                (r.out_trade_no.as_str(), r.out_return_no.as_str()),
                ("ORDER-1", "REFUND-1")
            );
            assert_eq!(r.return_amount.as_deref(), Some("5.00"));
            assert_eq!(
                r.notify_id.as_deref(),
                Some("RqPnCoPT3K9/vwbh3Ih30+xzJhq2hZ3t")
            );
            assert_eq!(
                r.error_code.as_deref(),
                (status == "REFUND_FAIL").then_some("MERCHANT_BALANCE_NOT_ENOUGH")
            );
        }
    }
}

#[test]
fn payment_and_refund_notifications_are_told_apart() {
    let v = verify_notify_body(
        &signed_body(&payment_fields(), SignType::Rsa2),
        &alipay_key(),
    );
    assert!(v.ok());
    assert_eq!(v.kind(), NotifyKind::Payment);
    assert!(is_paid(&v.params));
    let e = refund_notification(&v).unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidArgument, Some("notification"))
    );
    assert!(e.message.contains("payment notification"));
    // Without notify_type, the status field decides.
    let strip = |mut f: Vec<(String, String)>| {
        f.retain(|(k, _)| k != "notify_type");
        f
    };
    assert_eq!(notify_kind(&strip(payment_fields())), NotifyKind::Payment);
    assert_eq!(
        notify_kind(&strip(refund_fields("REFUND_SUCCESS"))),
        NotifyKind::Refund
    );
    assert_eq!(
        notify_kind(&pairs(&[("notify_type", "batch_trans_notify")])),
        NotifyKind::Unknown
    );
    assert_eq!(notify_kind(&[]), NotifyKind::Unknown);
    assert_eq!(NotifyKind::Refund.as_str(), "refund");
}

#[test]
fn only_a_verified_well_formed_refund_notification_is_read() {
    // Signed with the merchant's own key: does not verify, is not read.
    let fields = refund_fields("REFUND_SUCCESS");
    let sign = sign_with(&content_of(&fields), SignType::Rsa2, true);
    let mut forged = fields.clone();
    forged.push(("sign".into(), sign));
    forged.push(("sign_type".into(), "RSA2".into()));
    let v = alipayhk_pay_core::notify::verify_notify_params(forged, &alipay_key());
    assert!(!v.ok());
    assert_eq!(
        v.kind(),
        NotifyKind::Refund,
        "kind is read from the fields alone"
    );
    let e = refund_notification(&v).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("notification"));
    assert!(e.message.contains("BAD_SIGNATURE"));
    // A changed amount after signing.
    let body = String::from_utf8(signed_body(&fields, SignType::Md5)).unwrap();
    let v = verify_notify_body(body.replace("5.00", "50.00").as_bytes(), &md5_key());
    assert!(refund_notification(&v).is_err());
    // Verified but incomplete or unknown.
    for (name, value, code) in [
        ("refund_status", "REFUNDED", ErrorCode::InvalidParam),
        ("refund_status", "", ErrorCode::MissingParam),
        ("out_return_no", "", ErrorCode::MissingParam),
        ("out_trade_no", "", ErrorCode::MissingParam),
    ] {
        let mut f = refund_fields("REFUND_SUCCESS");
        f.iter_mut().find(|(k, _)| k == name).unwrap().1 = value.into();
        let v = verify_notify_body(&signed_body(&f, SignType::Rsa2), &alipay_key());
        assert!(v.ok());
        let e = refund_notification(&v).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (code, Some(name)),
            "{name}={value:?}"
        );
    }
}

#[test]
fn notify_verify_answers() {
    for (body, want) in [
        (&b"true"[..], NotifyVerifyOutcome::Genuine),
        (b"true\n", NotifyVerifyOutcome::Genuine),
        (b"  true \r\n", NotifyVerifyOutcome::Genuine),
        (b"false", NotifyVerifyOutcome::NotGenuine),
        (b"false\n", NotifyVerifyOutcome::NotGenuine),
    ] {
        assert_eq!(parse_notify_verify_reply(body).unwrap(), want);
    }
    let NotifyVerifyOutcome::Refused(g) = parse_notify_verify_reply(b"invalid").unwrap() else {
        panic!()
    };
    assert!(g.explanation.contains("partner"));
    let NotifyVerifyOutcome::Refused(g) = parse_notify_verify_reply(
        b"<?xml version=\"1.0\" encoding=\"GBK\"?><alipay><is_success>F</is_success><error>ILLEGAL_PARTNER</error></alipay>",
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(g.code, "ILLEGAL_PARTNER");
    for bad in [
        &b""[..],
        b"True",
        b"yes",
        b"truefalse",
        b"<alipay><is_success>T</is_success></alipay>",
        b"<html><body>true</body></html>",
        b"\xff\xfe",
    ] {
        let e = parse_notify_verify_reply(bad).unwrap_err();
        assert_eq!(e.error.code, ErrorCode::MalformedReply, "{bad:?}");
        assert_eq!(e.reason, None);
    }
}
