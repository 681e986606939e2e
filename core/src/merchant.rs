//! The merchant's side of an order: the typed order the `AlipayHK` front takes, the fixed
//! parameters it fills in, and the check of a verified notification against the order.

use crate::params::{amount_cents, ParamValue};
use crate::rules::SERVICE;

/// The merchant account an `AlipayHK` front is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub partner: String,
    /// Defaults to the partner ID.
    pub seller_id: Option<String>,
}

/// An order in the merchant's words (the front's camelCase order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Order {
    pub out_trade_no: ParamValue,
    pub subject: ParamValue,
    pub body: ParamValue,
    pub total_fee: ParamValue,
    /// Defaults to HKD.
    pub currency: ParamValue,
    pub notify_url: ParamValue,
    pub return_url: ParamValue,
    /// `it_b_pay`.
    pub timeout: ParamValue,
    /// Defaults to ALIPAYHK.
    pub payment_inst: ParamValue,
    /// More parameters, after the others, in their own order.
    pub extra: Vec<(String, ParamValue)>,
}

fn or_default(v: &ParamValue, default: &str) -> ParamValue {
    match v {
        ParamValue::Absent => ParamValue::Text(default.to_owned()),
        ParamValue::Text(s) if s.is_empty() => ParamValue::Text(default.to_owned()),
        other => other.clone(),
    }
}

/// The full parameter list, in the order of Alipay's demo: what `buildOrderStr` would be
/// given by a merchant writing them out by hand.
pub fn order_params(merchant: &Merchant, order: &Order) -> Vec<(String, ParamValue)> {
    let text = |s: &str| ParamValue::Text(s.to_owned());
    let mut out = vec![
        ("service".to_owned(), text(SERVICE)),
        ("partner".to_owned(), text(&merchant.partner)),
        (
            "seller_id".to_owned(),
            text(merchant.seller_id.as_deref().unwrap_or(&merchant.partner)),
        ),
        ("out_trade_no".to_owned(), order.out_trade_no.clone()),
        ("subject".to_owned(), order.subject.clone()),
        ("body".to_owned(), order.body.clone()),
        ("total_fee".to_owned(), order.total_fee.clone()),
        ("notify_url".to_owned(), order.notify_url.clone()),
        ("payment_type".to_owned(), text("1")),
        ("_input_charset".to_owned(), text("utf-8")),
        ("it_b_pay".to_owned(), order.timeout.clone()),
        ("return_url".to_owned(), order.return_url.clone()),
        (
            "payment_inst".to_owned(),
            or_default(&order.payment_inst, "ALIPAYHK"),
        ),
        ("currency".to_owned(), or_default(&order.currency, "HKD")),
        ("product_code".to_owned(), text("NEW_WAP_OVERSEAS_SELLER")),
        ("forex_biz".to_owned(), text("FP")),
    ];
    out.extend(order.extra.iter().cloned());
    out
}

/// What the merchant's own order says, to hold a notification against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedOrder {
    pub out_trade_no: Option<String>,
    pub total_fee: Option<String>,
    pub currency: Option<String>,
    pub seller_id: Option<String>,
}

/// Every way the notification disagrees with the order; empty when they agree. Amounts are
/// compared as decimals (`0.1` equals `0.10`).
pub fn check_notify_matches_order(
    params: &[(String, String)],
    expected: &ExpectedOrder,
) -> Vec<String> {
    let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let mut out = Vec::new();
    let mut exact = |name: &str, want: &Option<String>| {
        if let Some(want) = want {
            match get(name) {
                None => out.push(format!(
                    "{name}: the notification has none; the order has {want:?}"
                )),
                Some(got) if got != want => out.push(format!(
                    "{name}: the notification has {got:?}; the order has {want:?}"
                )),
                _ => {}
            }
        }
    };
    exact("out_trade_no", &expected.out_trade_no);
    exact("currency", &expected.currency);
    if let Some(want) = &expected.seller_id {
        // Alipay names the seller seller_id; some notifications carry partner as well.
        let got = get("seller_id").or_else(|| get("partner"));
        match got {
            None => out.push(format!(
                "seller_id: the notification has none; the order has {want:?}"
            )),
            Some(g) if g != want => out.push(format!(
                "seller_id: the notification has {g:?}; the order has {want:?}"
            )),
            _ => {}
        }
    }
    if let Some(want) = &expected.total_fee {
        match (get("total_fee"), amount_cents(want)) {
            (_, None) => out.push(format!(
                "total_fee: the order's amount {want:?} is not a decimal amount"
            )),
            (None, _) => out.push(format!(
                "total_fee: the notification has none; the order has {want:?}"
            )),
            (Some(got), Some(w)) => {
                if amount_cents(got) != Some(w) {
                    out.push(format!(
                        "total_fee: the notification has {got:?}; the order has {want:?}"
                    ));
                }
            }
        }
    }
    out
}

/// The URL of the notify_verify check (docs/protocol.md §4).
pub fn notify_verify_url(gateway: &str, partner: &str, notify_id: &str) -> String {
    let sep = if gateway.contains('?') { '&' } else { '?' };
    format!(
        "{gateway}{sep}service=notify_verify&partner={}&notify_id={}",
        crate::sign::encode_uri_component(partner),
        crate::sign::encode_uri_component(notify_id)
    )
}

/// The resultCode table of `my.tradePay` (docs/protocol.md §1).
pub const TRADE_PAY_RESULT_CODES: &[(&str, &str)] = &[
    ("9000", "success"),
    ("8000", "processing: wait for the notification"),
    ("4000", "payment failed"),
    ("5000", "repeated request"),
    ("6001", "cancelled by the user"),
    ("6002", "network error"),
    (
        "6004",
        "result unknown: wait for the notification or query the order",
    ),
];
