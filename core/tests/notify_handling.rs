//! What a notification handler relies on: the sign types an account accepts, several of
//! Alipay's keys during a rotation, one verdict for a body with a final line ending, and the
//! decision table (docs/protocol.md §4 and §4.1).

use crate::common;

use alipayhk_pay_core::merchant::ExpectedOrder;
use alipayhk_pay_core::notify::{
    decide, notify_sign_content, verify_notify_body, NotifyAction, NotifyKind,
};
use alipayhk_pay_core::sign::encode_uri_component;
use alipayhk_pay_core::{
    KeyInput, Md5Key, Reason, RsaPrivateKey, RsaPublicKey, SignType, Signer, VerifyKey,
};
use common::*;

fn signer(t: SignType, pem: &str) -> Signer {
    Signer::rsa(t, RsaPrivateKey::parse(KeyInput::Text(pem)).unwrap()).unwrap()
}

fn public(pem: &str) -> RsaPublicKey {
    RsaPublicKey::parse(KeyInput::Text(pem)).unwrap()
}

fn body(fields: &[(&str, &str)], signer: &Signer) -> String {
    let pairs: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sign = signer.sign_content(&notify_sign_content(&pairs)).unwrap();
    let mut out: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode_uri_component(v).replace("%20", "+")))
        .collect();
    out.push(format!("sign={}", encode_uri_component(&sign)));
    out.push(format!("sign_type={}", signer.sign_type()));
    out.join("&")
}

const PAID: &[(&str, &str)] = &[
    ("notify_id", "91722adff935e8cfa58b3aabf4dead6ibe"),
    ("notify_type", "trade_status_sync"),
    ("notify_time", "2026-11-28 12:00:00"),
    ("trade_no", "2026112822001403140213828085"),
    ("out_trade_no", "ORDER-1"),
    ("total_fee", "28.00"),
    ("currency", "HKD"),
    ("trade_status", "TRADE_SUCCESS"),
    ("seller_id", "2088101568358171"),
];

fn order(no: &str, fee: &str) -> ExpectedOrder {
    ExpectedOrder {
        out_trade_no: no.into(),
        total_fee: fee.into(),
        currency: Some("HKD".into()),
        seller_id: Some("2088101568358171".into()),
    }
}

fn with(
    fields: &[(&'static str, &'static str)],
    name: &'static str,
    value: &'static str,
) -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<_> = fields.iter().copied().filter(|(k, _)| *k != name).collect();
    v.push((name, value));
    v
}

mod sign_types {
    use super::*;

    #[test]
    fn a_key_pinned_to_rsa2_refuses_a_genuine_rsa_notification() {
        let alipay = signer(SignType::Rsa, RSA2048_PKCS8_PEM);
        let b = body(PAID, &alipay);
        let open = VerifyKey::rsa(public(RSA2048_PUB_PEM));
        assert!(verify_notify_body(b.as_bytes(), &open).ok());
        let pinned = VerifyKey::rsa(public(RSA2048_PUB_PEM))
            .accept(&[SignType::Rsa2], "acceptSignTypes")
            .unwrap();
        let v = verify_notify_body(b.as_bytes(), &pinned);
        let f = v.failure.expect("refused");
        assert_eq!(f.reason, Reason::SignTypeNotAccepted);
        assert!(f.message.contains("only RSA2 is accepted"), "{}", f.message);
        // Widened for a migration, it verifies again.
        let widened = VerifyKey::rsa(public(RSA2048_PUB_PEM))
            .accept(&[SignType::Rsa2, SignType::Rsa], "acceptSignTypes")
            .unwrap();
        assert!(verify_notify_body(b.as_bytes(), &widened).ok());
    }

    #[test]
    fn accepting_a_type_without_its_key_or_nothing_at_all_is_an_error() {
        let e = VerifyKey::rsa(public(RSA2048_PUB_PEM))
            .accept(&[SignType::Md5], "config.acceptSignTypes")
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("config.acceptSignTypes"));
        assert!(e.message.contains("MD5"), "{}", e.message);
        let e = VerifyKey::md5(Md5Key::new(MD5_KEY.trim()).unwrap())
            .accept(&[], "config.acceptSignTypes")
            .unwrap_err();
        assert!(e.message.contains("empty"), "{}", e.message);
    }
}

mod key_rotation {
    use super::*;

    #[test]
    fn either_key_of_a_rotation_verifies_and_the_one_that_did_is_named() {
        let old = signer(SignType::Rsa2, RSA1024_PKCS8_PEM);
        let new = signer(SignType::Rsa2, RSA2048_PKCS8_PEM);
        let ring =
            VerifyKey::rsa_keys(vec![public(RSA1024_PUB_PEM), public(RSA2048_PUB_PEM)]).unwrap();
        let v_old = verify_notify_body(body(PAID, &old).as_bytes(), &ring);
        let v_new = verify_notify_body(body(PAID, &new).as_bytes(), &ring);
        assert!(v_old.ok() && v_new.ok());
        assert_eq!(
            v_old.key_fingerprint,
            Some(public(RSA1024_PUB_PEM).fingerprint())
        );
        assert_eq!(
            v_new.key_fingerprint,
            Some(public(RSA2048_PUB_PEM).fingerprint())
        );
        // A key outside the ring verifies nothing.
        let only_old = VerifyKey::rsa_keys(vec![public(RSA1024_PUB_PEM)]).unwrap();
        let v = verify_notify_body(body(PAID, &new).as_bytes(), &only_old);
        assert_eq!(v.failure.unwrap().reason, Reason::BadSignature);
        assert_eq!(v.key_fingerprint, None);
    }

    #[test]
    fn an_empty_ring_is_refused_and_a_repeated_key_is_kept_once() {
        assert!(VerifyKey::rsa_keys(vec![]).is_err());
        let ring =
            VerifyKey::rsa_keys(vec![public(RSA1024_PUB_PEM), public(RSA1024_PUB_PEM)]).unwrap();
        assert_eq!(ring.fingerprints().len(), 1);
    }

    #[test]
    fn the_merchants_own_key_in_a_ring_is_refused() {
        let own = RsaPrivateKey::parse(KeyInput::Text(RSA1024_PKCS8_PEM)).unwrap();
        let ring =
            VerifyKey::rsa_keys(vec![public(RSA2048_PUB_PEM), public(RSA1024_PUB_PEM)]).unwrap();
        let e = ring
            .refuse_own_key(Some(own.public_key_der()), "config.alipayPublicKey")
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("config.alipayPublicKey"));
        assert!(e.message.contains("your own public key"));
        assert!(VerifyKey::rsa(public(RSA2048_PUB_PEM))
            .refuse_own_key(Some(own.public_key_der()), "k")
            .is_ok());
    }
}

mod line_endings {
    use super::*;

    #[test]
    fn one_final_line_ending_is_not_part_of_the_body() {
        let alipay = signer(SignType::Rsa2, RSA2048_PKCS8_PEM);
        let key = VerifyKey::rsa(public(RSA2048_PUB_PEM));
        let b = body(PAID, &alipay);
        for tail in ["", "\n", "\r\n"] {
            let v = verify_notify_body(format!("{b}{tail}").as_bytes(), &key);
            assert!(v.ok(), "{tail:?}: {:?}", v.failure);
        }
        // Two are not one: the last value really ends in a line break.
        for tail in ["\n\n", "\r\n\r\n", " \n", "\r"] {
            let v = verify_notify_body(format!("{b}{tail}").as_bytes(), &key);
            assert!(!v.ok(), "{tail:?} verified");
        }
    }
}

mod decision_table {
    use super::*;

    fn decided(
        fields: &[(&str, &str)],
        expected: Option<&ExpectedOrder>,
    ) -> alipayhk_pay_core::notify::NotifyDecision {
        let alipay = signer(SignType::Rsa2, RSA2048_PKCS8_PEM);
        let key = VerifyKey::rsa(public(RSA2048_PUB_PEM));
        let v = verify_notify_body(body(fields, &alipay).as_bytes(), &key);
        assert!(v.ok());
        decide(&v, expected)
    }

    #[test]
    fn paid_and_matching_is_recorded_then_answered_success() {
        let d = decided(PAID, Some(&order("ORDER-1", "28.0")));
        assert_eq!(
            (d.action, d.answer, d.kind),
            (NotifyAction::RecordPayment, "success", NotifyKind::Payment)
        );
        let d = decided(
            &with(PAID, "trade_status", "TRADE_FINISHED"),
            Some(&order("ORDER-1", "28.00")),
        );
        assert_eq!(d.action, NotifyAction::RecordPayment);
    }

    #[test]
    fn a_forged_notification_is_rejected_with_fail() {
        let alipay = signer(SignType::Rsa2, RSA2048_PKCS8_PEM);
        let key = VerifyKey::rsa(public(RSA2048_PUB_PEM));
        let b = body(PAID, &alipay).replace("total_fee=28.00", "total_fee=0.01");
        let v = verify_notify_body(b.as_bytes(), &key);
        let d = decide(&v, Some(&order("ORDER-1", "0.01")));
        assert_eq!((d.action, d.answer), (NotifyAction::Reject, "fail"));
    }

    #[test]
    fn genuine_but_mismatching_is_investigated_and_answered_success() {
        let d = decided(PAID, Some(&order("ORDER-1", "280.00")));
        assert_eq!((d.action, d.answer), (NotifyAction::Investigate, "success"));
        assert_eq!(d.mismatches.len(), 1);
        assert_eq!(d.mismatches[0].field, "total_fee");
    }

    #[test]
    fn an_unknown_order_is_investigated_and_answered_fail_so_alipay_retries() {
        let d = decided(PAID, None);
        assert_eq!((d.action, d.answer), (NotifyAction::Investigate, "fail"));
    }

    #[test]
    fn waiting_and_closed_orders() {
        let d = decided(&with(PAID, "trade_status", "WAIT_BUYER_PAY"), None);
        assert_eq!((d.action, d.answer), (NotifyAction::Nothing, "success"));
        let d = decided(
            &with(PAID, "trade_status", "TRADE_CLOSED"),
            Some(&order("ORDER-1", "28.00")),
        );
        assert_eq!(
            (d.action, d.answer),
            (NotifyAction::RecordClosed, "success")
        );
        let d = decided(
            &with(PAID, "trade_status", "TRADE_PENDING"),
            Some(&order("ORDER-1", "28.00")),
        );
        assert_eq!(d.action, NotifyAction::Investigate);
    }

    #[test]
    fn refund_notifications_are_told_apart_and_decided() {
        let refund: &[(&str, &str)] = &[
            ("notify_id", "n2"),
            ("notify_type", "refund_status_sync"),
            ("notify_time", "2026-11-28 13:00:00"),
            ("out_trade_no", "ORDER-1"),
            ("out_return_no", "REFUND-1"),
            ("refund_status", "REFUND_SUCCESS"),
            ("return_amount", "10.00"),
            ("currency", "HKD"),
        ];
        let d = decided(refund, Some(&order("ORDER-1", "28.00")));
        assert_eq!(
            (d.action, d.answer, d.kind),
            (NotifyAction::RecordRefund, "success", NotifyKind::Refund)
        );
        let d = decided(
            &with(refund, "refund_status", "REFUND_FAIL"),
            Some(&order("ORDER-1", "28.00")),
        );
        assert_eq!(d.action, NotifyAction::RecordRefundFailure);
        let d = decided(refund, Some(&order("ORDER-2", "28.00")));
        assert_eq!(d.action, NotifyAction::Investigate);
        let d = decided(refund, None);
        assert_eq!((d.action, d.answer), (NotifyAction::Investigate, "fail"));
    }
}
