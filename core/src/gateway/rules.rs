//! Each gateway service's parameters (protocol §8.3–§8.6), one table per service.
//!
//! Read it against the protocol line by line, like `crate::rules` for the order. The
//! parameters every request carries (`service`, `partner`, `_input_charset`, and `sign` /
//! `sign_type` for the signed services) are added by `request::build_request`.

use super::Service;
use crate::rules::ValueRule::{self, *};

/// Whether a parameter must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
    /// At least one of this parameter and the named one (both may be sent).
    AtLeastOneWith(&'static str),
    /// Exactly one of this parameter and the named one.
    ExactlyOneWith(&'static str),
}

/// The rule a gateway value follows: a rule of the order table, or one of the gateway's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayValue {
    Core(ValueRule),
    /// A time in GMT+8 in the configured `gmt_return` format (`GmtReturnFormat`).
    GmtReturn,
}

/// One row of a service's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceParam {
    pub name: &'static str,
    pub need: Need,
    pub value: GatewayValue,
    /// Shortest allowed length in characters.
    pub min_chars: usize,
    /// Longest allowed length in characters; `None` for no limit of our own.
    pub max_chars: Option<usize>,
}

const fn row(
    name: &'static str,
    need: Need,
    value: ValueRule,
    min_chars: usize,
    max_chars: Option<usize>,
) -> ServiceParam {
    ServiceParam {
        name,
        need,
        value: GatewayValue::Core(value),
        min_chars,
        max_chars,
    }
}

use Need::*;

/// protocol §8.3: `trade_no` (Alipay's id) wins when both are sent.
pub const SINGLE_TRADE_QUERY: &[ServiceParam] = &[
    row(
        "out_trade_no",
        AtLeastOneWith("trade_no"),
        TradeNo { max: 64 },
        1,
        Some(64),
    ),
    row(
        "trade_no",
        AtLeastOneWith("out_trade_no"),
        TradeNo { max: 64 },
        1,
        Some(64),
    ),
];

/// protocol §8.4. `return_rmb_amount` (the amount in CNY) is the alternative the published
/// MD5 vector uses; exactly one of the two is sent.
pub const FOREX_REFUND: &[ServiceParam] = &[
    row("out_return_no", Required, TradeNo { max: 64 }, 1, Some(64)),
    row("out_trade_no", Required, TradeNo { max: 64 }, 1, Some(64)),
    row(
        "return_amount",
        ExactlyOneWith("return_rmb_amount"),
        Amount,
        1,
        None,
    ),
    row(
        "return_rmb_amount",
        ExactlyOneWith("return_amount"),
        Amount,
        1,
        None,
    ),
    row("currency", Required, Currency, 3, Some(3)),
    // Filled in from the request time when absent.
    ServiceParam {
        name: "gmt_return",
        need: Required,
        value: GatewayValue::GmtReturn,
        min_chars: 14,
        max_chars: Some(19),
    },
    row("reason", Required, Text, 1, Some(100)),
    row("is_sync", Optional, OneOf(&["Y", "N"]), 1, Some(1)),
    row("notify_url", Optional, HttpUrl, 1, Some(200)),
];

/// protocol §8.5.
pub const REFUND_QUERY: &[ServiceParam] = &[
    row("out_trade_no", Required, TradeNo { max: 64 }, 1, Some(64)),
    row(
        "out_return_no",
        Required,
        TradeNo { max: 128 },
        1,
        Some(128),
    ),
];

/// protocol §8.6. A notify_id is an opaque text from the notification.
pub const NOTIFY_VERIFY: &[ServiceParam] = &[row("notify_id", Required, Text, 1, Some(256))];

/// The table of `service`.
pub const fn params_of(service: Service) -> &'static [ServiceParam] {
    match service {
        Service::SingleTradeQuery => SINGLE_TRADE_QUERY,
        Service::ForexRefund => FOREX_REFUND,
        Service::RefundQuery => REFUND_QUERY,
        Service::NotifyVerify => NOTIFY_VERIFY,
    }
}

/// The row for `name` in `service`'s table.
pub fn rule_for(service: Service, name: &str) -> Option<&'static ServiceParam> {
    params_of(service).iter().find(|r| r.name == name)
}

/// The parameters whose value may be given as a number (amounts).
pub fn takes_number(name: &str) -> bool {
    matches!(name, "return_amount" | "return_rmb_amount")
}
