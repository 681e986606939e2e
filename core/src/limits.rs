//! Sizes beyond which input is refused before any work is done. Real orders, keys and
//! notifications are far smaller; these bound what a hostile caller can make us do.

/// Parameters in one order (a real one has about 20).
pub const MAX_PARAMS: usize = 1_000;
/// Characters (UTF-16 code units, as JavaScript counts) in one parameter name or value.
pub const MAX_VALUE_CHARS: usize = 65_536;
/// Bytes in a whole pre-sign string.
pub const MAX_PRE_SIGN_BYTES: usize = 1 << 20;
/// Characters in a key (an 8192-bit PKCS#8 PEM is about 6,500).
pub const MAX_KEY_CHARS: usize = 65_536;
/// Bytes in a notification body, an orderStr, a tradePay result or a text to sign.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Bytes in a gateway reply (protocol §8.2); a `single_trade_query` reply is about 2 KB.
pub const MAX_REPLY_BYTES: usize = 1 << 20;
/// Element nesting in a gateway reply: `<alipay><response><trade><field>` is 4 deep.
pub const MAX_REPLY_DEPTH: usize = 16;
/// Elements in a gateway reply (a trade has about 25 fields, the request echo about 10).
pub const MAX_REPLY_ELEMENTS: usize = 4_096;
