//! The refund notification (protocol §8.4): a form POST to `notify_url` with
//! `notify_type=refund_status_sync`, verified like a payment notification (protocol §4, see
//! `crate::notify`), and read here into a typed result. It has no `trade_status`.

use crate::error::{Error, Result};
use crate::notify::{NotifyKind, NotifyVerification};

/// `refund_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundNotifyResult {
    /// `REFUND_SUCCESS`.
    Success,
    /// `REFUND_FAIL` (`error_code` says why, e.g. not enough balance).
    Fail,
}

impl RefundNotifyResult {
    /// `"SUCCESS"` or `"FAIL"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RefundNotifyResult::Success => "SUCCESS",
            RefundNotifyResult::Fail => "FAIL",
        }
    }
}

/// A verified refund notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundNotification {
    pub out_trade_no: String,
    /// The merchant's refund id.
    pub out_return_no: String,
    pub result: RefundNotifyResult,
    /// `refund_status` as sent.
    pub refund_status: String,
    pub return_amount: Option<String>,
    pub currency: Option<String>,
    pub error_code: Option<String>,
    pub notify_id: Option<String>,
    pub notify_time: Option<String>,
}

/// Reads a refund notification that verified. Refuses one that did not verify
/// (`ERR_ALIPAYHK_INVALID_ARGUMENT`, `field` "notification"), a payment notification or
/// one of another type (the same), and one without `out_trade_no`, `out_return_no` or a
/// known `refund_status` (`ERR_ALIPAYHK_MISSING_PARAM` / `ERR_ALIPAYHK_INVALID_PARAM` with
/// the field).
pub fn refund_notification(v: &NotifyVerification) -> Result<RefundNotification> {
    if let Some(f) = &v.failure {
        return Err(Error::argument(
            "notification",
            format!(
                "the notification did not verify ({}): only a verified notification is read",
                f.reason.as_str()
            ),
        ));
    }
    match v.kind() {
        NotifyKind::Refund => {}
        NotifyKind::Payment => {
            return Err(Error::argument(
                "notification",
                "this is a payment notification (notify_type=trade_status_sync), not a refund notification",
            ))
        }
        NotifyKind::Unknown => {
            return Err(Error::argument(
                "notification",
                "this notification's notify_type is not refund_status_sync",
            ))
        }
    }
    let get = |n: &str| {
        v.params
            .iter()
            .find(|(k, val)| k == n && !val.is_empty())
            .map(|(_, val)| val.clone())
    };
    let required = |n: &str| {
        get(n).ok_or_else(|| Error::missing(n, format!("the refund notification has no {n}")))
    };
    let refund_status = required("refund_status")?;
    let result = match refund_status.as_str() {
        "REFUND_SUCCESS" => RefundNotifyResult::Success,
        "REFUND_FAIL" => RefundNotifyResult::Fail,
        other => {
            return Err(Error::invalid(
                "refund_status",
                format!(
                    "refund_status is {}; protocol §8.4 lists REFUND_SUCCESS and REFUND_FAIL",
                    super::short(other)
                ),
            ))
        }
    };
    Ok(RefundNotification {
        out_trade_no: required("out_trade_no")?,
        out_return_no: required("out_return_no")?,
        result,
        refund_status,
        return_amount: get("return_amount"),
        currency: get("currency"),
        error_code: get("error_code"),
        notify_id: get("notify_id"),
        notify_time: get("notify_time"),
    })
}
