//! Reconciliation against AlipayHK's daily files (protocol §8.7): the transaction file
//! `PID_fptrade_YYYYMMDD.csv`, the settlement batch file `PID_settlebatch_YYYYMMDD.csv` and
//! the settlement files `PID_settle_YYYYMMDD_BatchID.csv`, compared with the merchant's
//! own records.
//!
//! - [`amount`]: money as exact cents.
//! - [`values`]: currency codes, dates and times as the files write them.
//! - `stream` (private): the chunk-fed CSV record stream under every parser (bounded memory:
//!   one chunk and one record of at most [`MAX_RECORD_BYTES`]).
//! - [`transactions`]: the transaction file (and the settlement files, same columns).
//! - [`settlement`]: the settlement batch file.
//! - [`records`]: the merchant's records and the index they are looked up in.
//! - [`json`]: merchant records from JSON (an array or JSON lines) in one call.
//! - [`report`]: the streaming [`Reconciler`] and its [`Report`].
//!
//! Parsing is tolerant of the documented quirks (values padded with spaces, a row with one
//! field more than the header: the unnamed column between Fee and Settlement) and strict
//! about what matters: a wrong header, an amount that is not a two-decimal number, an
//! unknown Type, Status or Issue, a currency that is not three capital letters, a bad
//! time all stop the parse with [`ErrorCode::InvalidFile`](crate::ErrorCode::InvalidFile)
//! naming the line and column. No row is ever skipped silently.

pub mod amount;
pub mod json;
pub mod records;
pub mod report;
pub mod settlement;
mod stream;
pub mod transactions;
pub mod values;

pub use amount::Amount;
pub use records::MerchantRecord;
pub use report::record_error;
pub use report::{
    reconcile, reconcile_reader, AlipayEntry, Counts, DayTotals, MerchantEntry, Mismatch,
    MismatchField, Reconciler, RecordText, Report, SettlementCheck, Sums, DEFAULT_LIST_LIMIT,
};
pub use settlement::{
    parse_settlement_batches, read_settlement_batches, SettlementBatch, SettlementBatchParser,
    SETTLEMENT_BATCH_COLUMNS,
};
pub use stream::{MAX_FIELDS, MAX_RECORD_BYTES};
pub use transactions::{
    Issue, Kind, Status, TransactionParser, TransactionReader, TransactionRecord, TransactionRow,
    TRANSACTION_COLUMNS,
};
pub use values::{Currency, Date, Timestamp};

use crate::error::{Error, ErrorCode};

/// An error about the file as a whole or a whole line: `field` is `line N` (or `file`).
pub(crate) fn file_error(line: Option<u64>, message: impl AsRef<str>) -> Error {
    match line {
        Some(line) => Error::with_field(
            ErrorCode::InvalidFile,
            format!("line {line}"),
            format!("line {line}: {}", message.as_ref()),
        ),
        None => Error::with_field(ErrorCode::InvalidFile, "file", message.as_ref()),
    }
}

/// An error about one value: `field` is `line N, column NAME`.
pub(crate) fn column_error(line: u64, column: &str, message: impl AsRef<str>) -> Error {
    let field = format!("line {line}, column {column}");
    let message = format!("{field}: {}", message.as_ref());
    Error::with_field(ErrorCode::InvalidFile, field, message)
}

/// A value quoted for an error message: at most 40 characters, control characters escaped.
pub(crate) fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut short: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        short.push('…');
    }
    format!("{short:?}")
}
