//! The asynchronous notification Alipay POSTs to `notify_url` (docs/protocol.md §4).

use crate::form::decode_form;
use crate::verify::{check_signature, restore_plus, sign_type_for, Failure, Reason, VerifyKey};

/// The outcome of checking a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyVerification {
    /// Why it failed; `None` when the signature is good.
    pub failure: Option<Failure>,
    /// `sign_type` as sent ('' when absent).
    pub sign_type: String,
    /// Every field as decoded, in the order sent, `sign` and `sign_type` included.
    pub params: Vec<(String, String)>,
}

impl NotifyVerification {
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// The string the notification's signature covers: every field but `sign`, `sign_type` and
/// empty ones, sorted by name in byte order, as `name=value` joined with `&`, no quotes.
pub fn notify_sign_content(params: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, v)| k != "sign" && k != "sign_type" && !v.is_empty())
        .collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::new();
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Checks a raw `application/x-www-form-urlencoded` body, decoded exactly once.
pub fn verify_notify_body(body: &[u8], key: &VerifyKey) -> NotifyVerification {
    match decode_form(body) {
        Ok(params) => verify_notify_params(params, key),
        Err(e) => NotifyVerification {
            failure: Some(Failure::new(Reason::Malformed, e.to_string())),
            sign_type: String::new(),
            params: Vec::new(),
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
    let failure = check(&params, key).err();
    NotifyVerification {
        failure,
        sign_type,
        params,
    }
}

fn check(params: &[(String, String)], key: &VerifyKey) -> Result<(), Failure> {
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
    if check_signature(content.as_bytes(), &sign, sign_type, key) {
        Ok(())
    } else {
        Err(Failure::new(
            Reason::BadSignature,
            format!("the {sign_type} signature does not match the notification's fields and the key (check that the key is Alipay's public key, not your own, and that the body was decoded exactly once)"),
        ))
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
