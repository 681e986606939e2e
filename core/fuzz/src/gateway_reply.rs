//! The properties of the `gateway_reply` fuzz target: gateway replies (protocol §8.2–§8.6)
//! as raw bytes. Included by `fuzz_targets/gateway_reply.rs` and, to replay the seeds under
//! plain `cargo test`, by `core/tests/gateway_fuzz.rs`; it uses nothing but
//! `alipayhk-pay-core` and std.
//!
//! Properties (a panic is a finding): no panic; a parsed envelope has unique field names and
//! says why when it is `F`; every service's parser agrees with the envelope; **a trade or a
//! refund status only comes out of a reply whose signature verifies**, with exactly the
//! envelope's `<response>` fields and the status its `trade_status` means, and the same reply
//! with its first signed value changed does not verify; `notify_verify` says `true` only for
//! the text `true`.

use alipayhk_pay_core::gateway::{
    parse_gateway_reply, parse_notify_verify_reply, parse_reply, Expected, GatewayOutcome,
    NotifyVerifyOutcome, RefundOutcome, RefundQueryOutcome, Reply, Service, TradeQueryOutcome,
    TradeStatus,
};
use alipayhk_pay_core::{KeyInput, Md5Key, RsaPublicKey, VerifyKey};
use std::sync::OnceLock;

/// "Alipay's" public key of the tests (core/tests/fixtures, the 2048-bit pair).
pub const ALIPAY_PUB_PEM: &str = include_str!("../../tests/fixtures/test_rsa2048_pub.pem");
pub const MD5_KEY: &str = include_str!("../../tests/fixtures/test_md5_key.txt");

fn key() -> &'static VerifyKey {
    static KEY: OnceLock<VerifyKey> = OnceLock::new();
    KEY.get_or_init(|| {
        VerifyKey::rsa(RsaPublicKey::parse(KeyInput::Text(ALIPAY_PUB_PEM)).unwrap())
            .with_md5(Md5Key::new(MD5_KEY.trim()).unwrap())
    })
}

/// The body with an `X` put before the text of the first signed field, when it can be found
/// literally (an unescaped, non-empty value right after its start tag).
pub fn with_first_field_changed(data: &[u8], reply: &Reply) -> Option<Vec<u8>> {
    let response = reply.response.as_ref()?;
    let (name, value) = response.fields.iter().find(|(_, v)| !v.is_empty())?;
    if reply.encoding != "UTF-8" {
        return None;
    }
    let needle = format!("<{name}>{value}</{name}>");
    let text = std::str::from_utf8(data).ok()?;
    let at = text.find(&needle)?;
    // The only occurrence, so the change lands in the signed field.
    if text[at + 1..].contains(&needle) {
        return None;
    }
    let mut out = data.to_vec();
    out.insert(at + name.len() + 2, b'X');
    Some(out)
}

pub fn gateway_reply(data: &[u8]) {
    let envelope = parse_reply(data);
    if let Ok(reply) = &envelope {
        if let Some(r) = &reply.response {
            for (i, (n, _)) in r.fields.iter().enumerate() {
                assert!(
                    !r.fields[..i].iter().any(|(m, _)| m == n),
                    "a repeated field"
                );
            }
            assert!(!r.fields.is_empty());
        }
        if !reply.is_success {
            assert!(reply.error.as_deref().is_some_and(|e| !e.is_empty()));
        }
    }
    let expected = Expected::default();
    for service in Service::ALL {
        let outcome = parse_gateway_reply(service, data, Some(key()), &expected);
        let Ok(outcome) = outcome else {
            continue;
        };
        if service != Service::NotifyVerify {
            assert!(
                envelope.is_ok(),
                "{service}: an outcome from a broken envelope"
            );
        }
        let reply = envelope.as_ref().ok();
        match outcome {
            GatewayOutcome::TradeQuery(TradeQueryOutcome::Trade(t)) => {
                let reply = reply.unwrap();
                assert!(reply.is_success);
                let fields = &reply.response.as_ref().unwrap().fields;
                assert_eq!(&t.fields, fields);
                let status = fields
                    .iter()
                    .find(|(k, _)| k == "trade_status")
                    .map(|(_, v)| v.as_str())
                    .and_then(TradeStatus::from_trade_status);
                assert_eq!(Some(t.status), status);
                if let Some(changed) = with_first_field_changed(data, reply) {
                    assert!(
                        !matches!(
                            parse_gateway_reply(service, &changed, Some(key()), &expected),
                            Ok(GatewayOutcome::TradeQuery(TradeQueryOutcome::Trade(_)))
                        ),
                        "a changed field still verifies"
                    );
                }
            }
            GatewayOutcome::TradeQuery(TradeQueryOutcome::NotFound) => {
                assert_eq!(reply.unwrap().error.as_deref(), Some("TRADE_NOT_EXIST"));
            }
            GatewayOutcome::RefundQuery(RefundQueryOutcome::Refund(r)) => {
                let reply = reply.unwrap();
                assert!(reply.is_success);
                assert_eq!(&r.fields, &reply.response.as_ref().unwrap().fields);
                if let Some(changed) = with_first_field_changed(data, reply) {
                    assert!(
                        !matches!(
                            parse_gateway_reply(service, &changed, Some(key()), &expected),
                            Ok(GatewayOutcome::RefundQuery(RefundQueryOutcome::Refund(_)))
                        ),
                        "a changed field still verifies"
                    );
                }
            }
            GatewayOutcome::Refund(RefundOutcome::Accepted { .. }) => {
                assert!(reply.unwrap().is_success);
            }
            GatewayOutcome::TradeQuery(TradeQueryOutcome::GatewayError(_))
            | GatewayOutcome::Refund(RefundOutcome::Refused(_))
            | GatewayOutcome::RefundQuery(RefundQueryOutcome::NotFound)
            | GatewayOutcome::RefundQuery(RefundQueryOutcome::GatewayError(_)) => {}
            GatewayOutcome::NotifyVerify(v) => {
                assert_eq!(
                    v == NotifyVerifyOutcome::Genuine,
                    data.trim_ascii() == b"true"
                );
                assert_eq!(parse_notify_verify_reply(data).unwrap(), v);
            }
        }
    }
}
