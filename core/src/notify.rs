//! The asynchronous notification Alipay POSTs to `notify_url` (docs/protocol.md §4).

use crate::form::decode_form;
use crate::verify::{restore_plus, sign_type_for, signing_key, Failure, Reason, VerifyKey};

/// The outcome of checking a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyVerification {
    /// Why it failed; `None` when the signature is good.
    pub failure: Option<Failure>,
    /// `sign_type` as sent ('' when absent).
    pub sign_type: String,
    /// Every field as decoded, in the order sent, `sign` and `sign_type` included. Verified
    /// only when `failure` is `None`.
    pub params: Vec<(String, String)>,
    /// The fingerprint of the key that verified it (one of several during a key rotation).
    pub key_fingerprint: Option<String>,
}

impl NotifyVerification {
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// The string the notification's signature covers: every field but `sign`, `sign_type` and
/// empty ones, sorted by name in byte order, as `name=value` joined with `&`, no quotes.
pub fn notify_sign_content(params: &[(String, String)]) -> String {
    crate::sign::sorted_content(
        params
            .iter()
            .filter(|(k, _)| k != "sign" && k != "sign_type"),
        false,
    )
}

/// Checks a raw `application/x-www-form-urlencoded` body, decoded exactly once.
pub fn verify_notify_body(body: &[u8], key: &VerifyKey) -> NotifyVerification {
    match decode_form(body) {
        Ok(params) => verify_notify_params(params, key),
        Err(e) => NotifyVerification {
            failure: Some(Failure::new(Reason::Malformed, e.to_string())),
            sign_type: String::new(),
            params: Vec::new(),
            key_fingerprint: None,
        },
    }
}

/// Checks fields a framework already decoded. A repeated name is `MALFORMED`.
pub fn verify_notify_params(params: Vec<(String, String)>, key: &VerifyKey) -> NotifyVerification {
    let sign_type = params
        .iter()
        .find(|(k, _)| k == "sign_type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (failure, key_fingerprint) = match check(&params, key) {
        Ok(fingerprint) => (None, Some(fingerprint)),
        Err(f) => (Some(f), None),
    };
    NotifyVerification {
        failure,
        sign_type,
        params,
        key_fingerprint,
    }
}

/// The fingerprint of the key that verified the fields, or why none did.
fn check(params: &[(String, String)], key: &VerifyKey) -> Result<String, Failure> {
    for (i, (name, _)) in params.iter().enumerate() {
        if params[..i].iter().any(|(n, _)| n == name) {
            return Err(Failure::new(
                Reason::Malformed,
                format!("{name:?} is given more than once"),
            ));
        }
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let sign = match get("sign") {
        Some(s) if !s.is_empty() => restore_plus(s),
        _ => {
            return Err(Failure::new(
                Reason::MissingSign,
                "the notification has no sign",
            ))
        }
    };
    let sign_type = sign_type_for(get("sign_type").filter(|s| !s.is_empty()), key)?;
    let content = notify_sign_content(params);
    match signing_key(content.as_bytes(), &sign, sign_type, key) {
        Some(fingerprint) => Ok(fingerprint),
        None => Err(Failure::new(
            Reason::BadSignature,
            format!("the {sign_type} signature does not match the notification's fields and the key (check that the key is Alipay's public key, not your own, and that the body was decoded exactly once)"),
        )),
    }
}

/// `trade_status` says the order is paid (cross-border accounts report TRADE_FINISHED).
pub fn is_paid(params: &[(String, String)]) -> bool {
    params
        .iter()
        .any(|(k, v)| k == "trade_status" && (v == "TRADE_SUCCESS" || v == "TRADE_FINISHED"))
}

/// What a notification is about: a payment (protocol §4) or a refund (protocol §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyKind {
    /// `notify_type=trade_status_sync`, or no `notify_type` and a `trade_status`.
    Payment,
    /// `notify_type=refund_status_sync`, or no `notify_type` and a `refund_status`.
    Refund,
    /// Another `notify_type`, or neither status field.
    Unknown,
}

impl NotifyKind {
    /// `"payment"`, `"refund"`, `"unknown"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Payment => "payment",
            NotifyKind::Refund => "refund",
            NotifyKind::Unknown => "unknown",
        }
    }
}

/// Tells a refund notification from a payment notification by `notify_type`. A refund
/// notification has no `trade_status`, so `is_paid` is false for it; use this to route it.
pub fn notify_kind(params: &[(String, String)]) -> NotifyKind {
    let get = |n: &str| {
        params
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    match get("notify_type") {
        Some("trade_status_sync") => NotifyKind::Payment,
        Some("refund_status_sync") => NotifyKind::Refund,
        Some(_) => NotifyKind::Unknown,
        None if get("trade_status").is_some() => NotifyKind::Payment,
        None if get("refund_status").is_some() => NotifyKind::Refund,
        None => NotifyKind::Unknown,
    }
}

impl NotifyVerification {
    /// What the notification is about (read from its fields, verified or not: check `ok()`).
    pub fn kind(&self) -> NotifyKind {
        notify_kind(&self.params)
    }
}

/// What the merchant's notification handler does with a notification (the decision table of
/// docs/protocol.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyAction {
    /// Paid and matching the order: record the payment once (keyed by `out_trade_no`), then
    /// answer `success`.
    RecordPayment,
    /// `TRADE_CLOSED`: mark the order closed (unpaid, or fully refunded), then answer.
    RecordClosed,
    /// `REFUND_SUCCESS`: record the refund once (keyed by `out_return_no`).
    RecordRefund,
    /// `REFUND_FAIL`: record that the refund failed (keyed by `out_return_no`).
    RecordRefundFailure,
    /// `WAIT_BUYER_PAY`: nothing to record; a later notification says how it ended.
    Nothing,
    /// Genuine, but it disagrees with the order, names no order of yours, or has a status this
    /// table does not know: record nothing as paid and have a person look.
    Investigate,
    /// The signature did not verify: record nothing, trust nothing in it.
    Reject,
}

impl NotifyAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            NotifyAction::RecordPayment => "RECORD_PAYMENT",
            NotifyAction::RecordClosed => "RECORD_CLOSED",
            NotifyAction::RecordRefund => "RECORD_REFUND",
            NotifyAction::RecordRefundFailure => "RECORD_REFUND_FAILURE",
            NotifyAction::Nothing => "NOTHING",
            NotifyAction::Investigate => "INVESTIGATE",
            NotifyAction::Reject => "REJECT",
        }
    }

    pub const ALL: [NotifyAction; 7] = [
        NotifyAction::RecordPayment,
        NotifyAction::RecordClosed,
        NotifyAction::RecordRefund,
        NotifyAction::RecordRefundFailure,
        NotifyAction::Nothing,
        NotifyAction::Investigate,
        NotifyAction::Reject,
    ];
}

/// The decision for one notification: what to do, and the exact text to answer Alipay with
/// once that is done (`success` stops Alipay's retries; anything else makes it retry, 8 tries
/// in about 25 hours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyDecision {
    pub action: NotifyAction,
    /// `"success"` or `"fail"`.
    pub answer: &'static str,
    pub kind: NotifyKind,
    /// How the notification disagrees with the order (empty unless the action is
    /// `Investigate` because of them).
    pub mismatches: Vec<crate::merchant::Mismatch>,
    /// A sentence for logs.
    pub message: String,
}

/// The decision table: the verification, and the merchant's order for the notification's
/// `out_trade_no` (`None` when the merchant has no such order).
pub fn decide(
    v: &NotifyVerification,
    expected: Option<&crate::merchant::ExpectedOrder>,
) -> NotifyDecision {
    let kind = v.kind();
    let decision = |action: NotifyAction, answer: &'static str, message: String| NotifyDecision {
        action,
        answer,
        kind,
        mismatches: Vec::new(),
        message,
    };
    if let Some(f) = &v.failure {
        return decision(
            NotifyAction::Reject,
            "fail",
            format!(
                "not verified ({}): {}; nothing in it can be trusted",
                f.reason.as_str(),
                f.message
            ),
        );
    }
    let get = |n: &str| {
        v.params
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let out_trade_no = get("out_trade_no").unwrap_or("");
    match kind {
        NotifyKind::Payment => {
            let status = get("trade_status").unwrap_or("");
            if status == "WAIT_BUYER_PAY" {
                return decision(
                    NotifyAction::Nothing,
                    "success",
                    format!(
                        "order {out_trade_no:?} is waiting for the buyer to pay; nothing to record"
                    ),
                );
            }
            let Some(expected) = expected else {
                return decision(
                    NotifyAction::Investigate,
                    "fail",
                    format!("no order of yours has out_trade_no {out_trade_no:?} (trade_status {status}); answering fail so that Alipay retries while you look"),
                );
            };
            let mismatches = crate::merchant::check_notify_matches_order(&v.params, expected);
            if !mismatches.is_empty() {
                let list: Vec<&str> = mismatches.iter().map(|m| m.message.as_str()).collect();
                return NotifyDecision {
                    action: NotifyAction::Investigate,
                    answer: "success",
                    kind,
                    message: format!("a genuine notification disagrees with your order ({}); record nothing as paid and have a person look (retries would not change it)", list.join("; ")),
                    mismatches,
                };
            }
            match status {
                "TRADE_SUCCESS" | "TRADE_FINISHED" => decision(
                    NotifyAction::RecordPayment,
                    "success",
                    format!("order {out_trade_no:?} is paid ({status}); record it once, then answer success"),
                ),
                "TRADE_CLOSED" => decision(
                    NotifyAction::RecordClosed,
                    "success",
                    format!("order {out_trade_no:?} is closed (unpaid, or refunded in full)"),
                ),
                other => decision(
                    NotifyAction::Investigate,
                    "success",
                    format!("trade_status {:?} is not one this table knows", other.chars().take(32).collect::<String>()),
                ),
            }
        }
        NotifyKind::Refund => {
            let out_return_no = get("out_return_no").unwrap_or("");
            let Some(expected) = expected else {
                return decision(
                    NotifyAction::Investigate,
                    "fail",
                    format!("no order of yours has out_trade_no {out_trade_no:?} (refund {out_return_no:?}); answering fail so that Alipay retries while you look"),
                );
            };
            if out_trade_no != expected.out_trade_no {
                let m = crate::merchant::check_notify_matches_order(&v.params, expected)
                    .into_iter()
                    .filter(|m| m.field == "out_trade_no")
                    .collect::<Vec<_>>();
                return NotifyDecision {
                    action: NotifyAction::Investigate,
                    answer: "success",
                    kind,
                    message: format!(
                        "the refund notification is for order {out_trade_no:?}, not {:?}",
                        expected.out_trade_no
                    ),
                    mismatches: m,
                };
            }
            match get("refund_status").unwrap_or("") {
                "REFUND_SUCCESS" => decision(
                    NotifyAction::RecordRefund,
                    "success",
                    format!("refund {out_return_no:?} of order {out_trade_no:?} succeeded; record it once"),
                ),
                "REFUND_FAIL" => decision(
                    NotifyAction::RecordRefundFailure,
                    "success",
                    format!("refund {out_return_no:?} of order {out_trade_no:?} failed ({})", get("error_code").unwrap_or("no error_code")),
                ),
                other => decision(
                    NotifyAction::Investigate,
                    "success",
                    format!("refund_status {:?} is not one this table knows", other.chars().take(32).collect::<String>()),
                ),
            }
        }
        NotifyKind::Unknown => decision(
            NotifyAction::Investigate,
            "success",
            format!(
                "notify_type {:?} is neither a payment nor a refund notification",
                get("notify_type")
                    .unwrap_or("")
                    .chars()
                    .take(32)
                    .collect::<String>()
            ),
        ),
    }
}
