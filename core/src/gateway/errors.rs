//! The gateway's error codes (protocol §8.2–§8.5) and what usually causes each. They come
//! back as data ([`GatewayError`]); the caller decides whether to throw
//! ([`GatewayError::to_error`], code `ERR_ALIPAYHK_GATEWAY_ERROR`).

use super::{short, Service};
use crate::error::{Error, ErrorCode};

/// A code from `<error>` (`is_success=F`), or a `response_code` that refuses the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    /// As the gateway wrote it, e.g. `ILLEGAL_SIGN`.
    pub code: String,
    /// What usually causes it and what to do, for people.
    pub explanation: String,
    /// Whether the same request may simply be sent again later (a refund only with the same
    /// `out_return_no` and amount).
    pub retryable: bool,
}

/// (code, explanation, retryable). Keep in the order of protocol §8.2, then by service.
const KNOWN: &[(&str, &str, bool)] = &[
    ("ILLEGAL_SIGN", "the gateway could not verify the request's signature: the key or sign type does not match what the account has on file (RSA: the public key uploaded to Alipay must be the pair of this private key; MD5: the MD5 key), or a parameter was changed after signing (a proxy re-encoding the query string)", false),
    ("ILLEGAL_ARGUMENT", "a parameter is missing or malformed for this service", false),
    ("ILLEGAL_SERVICE", "the gateway does not know this service name (check the gateway: production and sandbox offer different services)", false),
    ("ILLEGAL_PARTNER", "the partner ID is unknown at this gateway (a production partner ID sent to the sandbox, or the other way round, or a typo)", false),
    ("ILLEGAL_PARTNER_EXTERFACE", "the account has no contract for this service: ask Alipay to enable it for this partner ID", false),
    ("ILLEGAL_SECURITY_PROFILE", "no key of this sign type is configured for the account: upload the RSA public key in Alipay's merchant portal, or sign with the MD5 key", false),
    ("ILLEGAL_SIGN_TYPE", "the gateway does not accept this sign_type for the account (use the type whose key is configured)", false),
    ("ILLEGAL_CHARSET", "the gateway refused _input_charset", false),
    ("HAS_NO_PRIVILEGE", "the account has no permission for this operation or for this order", false),
    ("ILLEGAL_CLIENT_IP", "the calling server's IP address is not on the account's whitelist", false),
    ("ILLEGAL_EXTER_INVOKE_IP", "the calling server's IP address is not on the account's whitelist", false),
    ("ILLEGAL_USER", "the account is not valid for this operation", false),
    ("ILLEGAL_ENCRYPT", "the request's encryption or signature format is wrong", false),
    ("ILLEGAL_DYN_MD5_KEY", "the MD5 key is not valid for this account", false),
    ("ILLEGAL_REQUEST_REFERER", "the gateway refused the request's origin", false),
    ("ILLEGAL_ACCESS_SWITCH_SYSTEM", "the account may not use this gateway", false),
    ("SYSTEM_ERROR", "an error inside Alipay: try again later (a refund only with the same out_return_no and amount)", true),
    ("SYSTEM_EXCEPTION", "an error inside Alipay: try again later (a refund only with the same out_return_no and amount)", true),
    ("TRADE_NOT_EXIST", "Alipay has no trade with this id yet: normal right after the orderStr was made, before the buyer opened the cashier; otherwise check out_trade_no / trade_no and the partner", false),
    ("PURCHASE_TRADE_NOT_EXIST", "the order to refund does not exist for this partner, or was never paid", false),
    ("REPEATED_REFUNDMENT_REQUEST", "a refund with this out_return_no was already made (or is being made): ask alipay.acquire.refund.query for its status before anything else; do not send a new out_return_no for the same refund", false),
    ("RETURN_AMOUNT_EXCEED", "the refund would take the refunded total above the amount paid", false),
    ("CURRENCY_NOT_SAME", "the refund's currency is not the order's currency", false),
    ("REFUNDMENT_VALID_DATE_EXCEED", "the order is too old to be refunded through the gateway", false),
    ("ACCESS_FORBIDDEN", "the account may not query this refund", false),
    ("QUERY_FAILED", "Alipay could not answer the refund query now: try again later", true),
];

/// What usually causes `code`, when it is one of the known codes.
pub fn explain_gateway_error(code: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, e, _)| *e)
}

impl GatewayError {
    /// The error `code` with its explanation (a generic one for codes not in the table).
    pub fn new(code: &str) -> GatewayError {
        match KNOWN.iter().find(|(c, _, _)| *c == code) {
            Some((_, explanation, retryable)) => GatewayError {
                code: code.to_owned(),
                explanation: (*explanation).to_owned(),
                retryable: *retryable,
            },
            None => GatewayError {
                code: code.to_owned(),
                explanation: format!(
                    "the gateway answered {}, a code not described in protocol §8; see Alipay's documentation for the service",
                    short(code)
                ),
                retryable: false,
            },
        }
    }

    /// As an error to throw: code `ERR_ALIPAYHK_GATEWAY_ERROR`, the message naming the
    /// service, the gateway's code and the explanation.
    pub fn to_error(&self, service: Service) -> Error {
        Error::new(
            ErrorCode::GatewayError,
            format!(
                "{service}: the gateway answered {}: {}",
                self.code, self.explanation
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_codes() {
        let e = GatewayError::new("ILLEGAL_PARTNER_EXTERFACE");
        assert!(e.explanation.contains("no contract for this service"));
        assert!(!e.retryable);
        assert!(GatewayError::new("SYSTEM_ERROR").retryable);
        let u = GatewayError::new("SOMETHING_NEW");
        assert_eq!(u.code, "SOMETHING_NEW");
        assert!(u.explanation.contains("not described"));
        let err = e.to_error(Service::ForexRefund);
        assert_eq!(err.code.as_str(), "ERR_ALIPAYHK_GATEWAY_ERROR");
        assert!(err
            .message
            .starts_with("forex_refund: the gateway answered ILLEGAL_PARTNER_EXTERFACE"));
        for (i, (c, _, _)) in KNOWN.iter().enumerate() {
            assert!(!KNOWN[..i].iter().any(|(d, _, _)| d == c), "{c} twice");
        }
    }
}
