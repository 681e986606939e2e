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

impl Merchant {
    /// Checks the partner ID by the `partner` rule of the rules table (docs/protocol.md §2),
    /// and a seller ID if one is given (an empty one is a mistake, not "use the partner").
    pub fn new(partner: &str, seller_id: Option<&str>) -> crate::Result<Merchant> {
        check_partner(partner)?;
        if seller_id == Some("") {
            return Err(crate::Error::invalid(
                "sellerId",
                "sellerId is empty; leave it out to use the partner ID as the seller",
            ));
        }
        Ok(Merchant {
            partner: partner.to_owned(),
            seller_id: seller_id.map(str::to_owned),
        })
    }
}

/// The keys that check what Alipay sends to an account (`AlipayHK`): Alipay's RSA public
/// keys (several during a rotation), and an MD5 account's own MD5 key. Alipay's keys may not
/// include the merchant's own public key (the most common cause of failed verification). The
/// sign types accepted are the account's own unless `accept` widens them (a migration between
/// RSA and RSA2): a notification labelled `RSA` is not checked with SHA-1 for an `RSA2`
/// account. `None` when the account holds nothing that could check a message.
pub fn alipay_verify_key(
    signer: &crate::Signer,
    alipay_rsa: Option<crate::VerifyKey>,
    accept: Option<&[crate::SignType]>,
) -> crate::Result<Option<crate::VerifyKey>> {
    let key = match (alipay_rsa, signer.md5_key()) {
        (Some(rsa), md5) => {
            rsa.refuse_own_key(signer.public_key_der(), "config.alipayPublicKey")?;
            Some(match md5 {
                Some(k) => rsa.with_md5(k.clone()),
                None => rsa,
            })
        }
        (None, Some(k)) => Some(crate::VerifyKey::md5(k.clone())),
        (None, None) => None,
    };
    match (key, accept) {
        (Some(k), accept) => {
            let own = [signer.sign_type()];
            Ok(Some(k.accept(accept.unwrap_or(&own), "config.acceptSignTypes")?))
        }
        (None, Some(_)) => Err(crate::Error::with_field(
            crate::ErrorCode::SignType,
            "config.acceptSignTypes",
            "config.acceptSignTypes names the sign types of messages from Alipay, but no alipayPublicKey was given to check them",
        )),
        (None, None) => Ok(None),
    }
}

/// The partner ID by the one `partner` rule of the rules table.
pub fn check_partner(partner: &str) -> crate::Result<()> {
    let rule = crate::rules::rule_for("partner")
        .ok_or_else(|| crate::Error::internal("no partner rule"))?;
    crate::params::check_value_rule(rule, partner)
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

/// What the merchant's own order says, to hold a notification against. The order number and
/// the amount are required: a check that compared nothing must not say "all agree".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedOrder {
    pub out_trade_no: String,
    pub total_fee: String,
    /// Compared when given (the order's currency; AlipayHK's default is HKD).
    pub currency: Option<String>,
    /// Compared with the notification's `seller_id` when given.
    pub seller_id: Option<String>,
}

/// One way a notification disagrees with the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The notification's field name (`out_trade_no`, `total_fee`, `currency`, `seller_id`).
    pub field: &'static str,
    /// What the notification says; `None` when it lacks the field.
    pub notification: Option<String>,
    /// What the order says.
    pub order: String,
    /// A sentence for logs.
    pub message: String,
}

impl Mismatch {
    fn new(field: &'static str, notification: Option<&str>, order: &str) -> Mismatch {
        let message = match notification {
            None => format!("{field}: the notification has none; the order has {order:?}"),
            Some(got) => format!("{field}: the notification has {got:?}; the order has {order:?}"),
        };
        Mismatch {
            field,
            notification: notification.map(str::to_owned),
            order: order.to_owned(),
            message,
        }
    }
}

/// Checks the order's own values before anything is compared: an order whose amount is not a
/// decimal could never match, and saying so as a mismatch would hide the merchant's bug.
pub fn check_expected_order(expected: &ExpectedOrder) -> crate::Result<()> {
    if expected.out_trade_no.is_empty() {
        return Err(crate::Error::invalid(
            "expected.outTradeNo",
            "expected.outTradeNo is empty; give your order's out_trade_no",
        ));
    }
    if amount_cents(&expected.total_fee).is_none() {
        return Err(crate::Error::invalid(
            "expected.totalFee",
            format!(
                "expected.totalFee {:?} is not a decimal amount with at most 2 decimals, such as '28.00'",
                expected.total_fee.chars().take(32).collect::<String>()
            ),
        ));
    }
    Ok(())
}

/// Every way the notification disagrees with the order; empty when they agree. Amounts are
/// compared as decimals (`0.1` equals `0.10`); a field the order names but the notification
/// lacks is a mismatch.
pub fn check_notify_matches_order(
    params: &[(String, String)],
    expected: &ExpectedOrder,
) -> Vec<Mismatch> {
    let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let mut out = Vec::new();
    match get("out_trade_no") {
        Some(got) if got == expected.out_trade_no => {}
        got => out.push(Mismatch::new("out_trade_no", got, &expected.out_trade_no)),
    }
    let want_cents = amount_cents(&expected.total_fee);
    match get("total_fee") {
        Some(got) if want_cents.is_some() && amount_cents(got) == want_cents => {}
        got => out.push(Mismatch::new("total_fee", got, &expected.total_fee)),
    }
    if let Some(want) = &expected.currency {
        match get("currency") {
            Some(got) if got == want => {}
            got => out.push(Mismatch::new("currency", got, want)),
        }
    }
    if let Some(want) = &expected.seller_id {
        match get("seller_id") {
            Some(got) if got == want => {}
            got => out.push(Mismatch::new("seller_id", got, want)),
        }
    }
    out
}

/// Alipay's gateway for notify_verify when no other is given (docs/protocol.md §8.6).
pub const DEFAULT_GATEWAY: &str = "https://intlmapi.alipay.com/gateway.do";

/// The checked URL of the notify_verify check: the partner by its rule, a non-empty
/// notify_id, and the gateway (default [`DEFAULT_GATEWAY`]) by the one URL rule.
pub fn checked_notify_verify_url(
    gateway: Option<&str>,
    partner: &str,
    notify_id: &str,
) -> crate::Result<String> {
    check_partner(partner)?;
    if notify_id.is_empty() {
        return Err(crate::Error::invalid(
            "notifyId",
            "notifyId is empty; pass the notification's notify_id",
        ));
    }
    let gateway = gateway.unwrap_or(DEFAULT_GATEWAY);
    if !crate::params::is_http_url(gateway) {
        return Err(crate::Error::invalid(
            "gateway",
            "gateway must be an absolute http:// or https:// URL with a host, such as https://intlmapi.alipay.com/gateway.do",
        ));
    }
    Ok(notify_verify_url(gateway, partner, notify_id))
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
