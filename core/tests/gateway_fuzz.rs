//! The `gateway_reply` fuzz target's properties (core/fuzz/src/gateway_reply.rs) replayed on
//! its committed seeds and on any kept finding (`tests/fuzz_regressions/gateway_reply/`),
//! under plain `cargo test`.

#[path = "../fuzz/src/gateway_reply.rs"]
mod checks;

use alipayhk_pay_core::gateway::{parse_gateway_reply, Expected, GatewayOutcome, Service};
use std::path::Path;

fn inputs() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        "fuzz/seeds/gateway_reply",
        "tests/fuzz_regressions/gateway_reply",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn the_seeds_pass_the_properties() {
    let inputs = inputs();
    assert!(inputs.len() >= 17, "{}", inputs.len());
    let mut failed = Vec::new();
    for (name, data) in &inputs {
        if std::panic::catch_unwind(|| checks::gateway_reply(data)).is_err() {
            failed.push(name.clone());
        }
    }
    assert!(failed.is_empty(), "failing inputs {failed:?}");
}

/// The signed seeds verify with the target's key, so its "a changed field does not verify"
/// properties run from the start.
#[test]
fn the_signed_seeds_verify() {
    let key = alipayhk_pay_core::VerifyKey::rsa(
        alipayhk_pay_core::RsaPublicKey::parse(alipayhk_pay_core::KeyInput::Text(
            checks::ALIPAY_PUB_PEM,
        ))
        .unwrap(),
    )
    .with_md5(alipayhk_pay_core::Md5Key::new(checks::MD5_KEY.trim()).unwrap());
    let (mut signed, mut changeable) = (0, 0);
    for (name, data) in inputs() {
        let service = if name.starts_with("trade") || name.starts_with("simulator_trade") {
            Service::SingleTradeQuery
        } else if name.contains("refund_query") {
            Service::RefundQuery
        } else {
            continue;
        };
        let o = parse_gateway_reply(service, &data, Some(&key), &Expected::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            matches!(
                o,
                GatewayOutcome::TradeQuery(alipayhk_pay_core::gateway::TradeQueryOutcome::Trade(_))
                    | GatewayOutcome::RefundQuery(
                        alipayhk_pay_core::gateway::RefundQueryOutcome::Refund(_)
                    )
            ),
            "{name}: {o:?}"
        );
        signed += 1;
        let reply = alipayhk_pay_core::gateway::parse_reply(&data).unwrap();
        if let Some(changed) = checks::with_first_field_changed(&data, &reply) {
            changeable += 1;
            assert!(
                parse_gateway_reply(service, &changed, Some(&key), &Expected::default()).is_err()
            );
        }
    }
    assert_eq!(signed, 9);
    assert!(changeable >= 5, "{changeable}");
}
