//! The AlipayHK request parameters of docs/protocol.md §2, in one table.
//!
//! Read it against the protocol line by line: each row is one parameter, whether it is
//! required, and the rule its value must follow under `strict` validation.

/// Whether a parameter must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    /// Required unless the named alternative is present; never both (total_fee / rmb_fee).
    EitherOf(&'static str),
}

/// The rule a value must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRule {
    /// Exactly this text.
    Exact(&'static str),
    /// This text, ASCII case ignored.
    ExactIgnoreCase(&'static str),
    /// One of these texts, exactly.
    OneOf(&'static [&'static str]),
    /// 16 digits starting with 2088.
    Partner,
    /// 1 to `max` characters drawn from `[A-Za-z0-9_-]`.
    TradeNo { max: usize },
    /// A decimal with at most 2 fraction digits, from 0.01 to 1000000.00.
    Amount,
    /// An ISO 4217 code: three capital letters.
    Currency,
    /// A whole number and m/h/d from 1m to 15d, or `1c`.
    Timeout,
    /// An absolute http(s) URL.
    HttpUrl,
    /// Exactly `n` digits.
    Digits(usize),
    /// A JSON text.
    Json,
    /// Any text within the length limits.
    Text,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamRule {
    pub name: &'static str,
    pub presence: Presence,
    pub value: ValueRule,
    /// Shortest allowed length in characters (Unicode scalar values).
    pub min_chars: usize,
    /// Longest allowed length in characters; `None` for no limit of our own.
    pub max_chars: Option<usize>,
}

const fn row(
    name: &'static str,
    presence: Presence,
    value: ValueRule,
    min_chars: usize,
    max_chars: Option<usize>,
) -> ParamRule {
    ParamRule {
        name,
        presence,
        value,
        min_chars,
        max_chars,
    }
}

use Presence::*;
use ValueRule::*;

/// The `service` value of the mobile payment this package builds.
pub const SERVICE: &str = "mobile.securitypay.pay";

/// docs/protocol.md §2, row by row.
pub const PARAM_RULES: &[ParamRule] = &[
    row("service", Required, Exact(SERVICE), 1, None),
    row("partner", Required, Partner, 16, Some(16)),
    row("seller_id", Required, Text, 1, Some(100)),
    row(
        "_input_charset",
        Required,
        ExactIgnoreCase("utf-8"),
        1,
        None,
    ),
    row("payment_type", Required, Exact("1"), 1, None),
    row("out_trade_no", Required, TradeNo { max: 64 }, 1, Some(64)),
    row("subject", Required, Text, 1, Some(256)),
    row("body", Optional, Text, 1, Some(400)),
    row("total_fee", EitherOf("rmb_fee"), Amount, 1, None),
    row("rmb_fee", EitherOf("total_fee"), Amount, 1, None),
    row("currency", Required, Currency, 3, Some(3)),
    row("forex_biz", Required, Exact("FP"), 1, None),
    row(
        "product_code",
        Required,
        Exact("NEW_WAP_OVERSEAS_SELLER"),
        1,
        None,
    ),
    row(
        "payment_inst",
        Optional,
        OneOf(&["ALIPAYHK", "ALIPAYCN"]),
        1,
        None,
    ),
    row("notify_url", Required, HttpUrl, 1, Some(200)),
    row("return_url", Optional, Text, 1, Some(200)),
    row("it_b_pay", Optional, Timeout, 2, None),
    row("appenv", Optional, Text, 1, None),
    row("secondary_merchant_id", Optional, Text, 1, None),
    row("secondary_merchant_name", Optional, Text, 1, None),
    row(
        "secondary_merchant_industry",
        Optional,
        Digits(4),
        4,
        Some(4),
    ),
    row("trade_information", Optional, Json, 1, None),
    row("show_url", Optional, Text, 1, None),
    row("extern_token", Optional, Text, 1, None),
];

/// The one parameter whose value legitimately holds `"` (a JSON text).
pub const JSON_PARAM: &str = "trade_information";

/// The documented sample's name for `service`.
pub const SERVICE_ALIAS: &str = "method";

pub fn rule_for(name: &str) -> Option<&'static ParamRule> {
    PARAM_RULES.iter().find(|r| {
        r.name.len() == name.len()
            && r.name.as_bytes().first() == name.as_bytes().first()
            && r.name == name
    })
}
