//! The settlement batch file `PID_settlebatch_YYYYMMDD.csv` (protocol §8.7), one line per
//! batch: `Settle_batch_no,Settle_date,Amount,Fee,Settlement,Currency`.
//!
//! The settlement files of the same zip, `PID_settle_YYYYMMDD_BatchID.csv`, list the rows of
//! one batch with the transaction file's columns: read them with
//! [`TransactionParser`](super::TransactionParser).

use super::amount::Amount;
use super::stream::{FileStream, RawRecord, RowStep};
use super::transactions::read_some;
use super::values::{Currency, Timestamp};
use super::{column_error, file_error, shown};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::io::Read;

/// The header of the settlement batch file (compared without case, spaces trimmed).
pub const SETTLEMENT_BATCH_COLUMNS: [&str; 6] = [
    "Settle_batch_no",
    "Settle_date",
    "Amount",
    "Fee",
    "Settlement",
    "Currency",
];

/// One settlement batch: what Alipay says it settled. Serialised with camelCase names,
/// amounts and the date as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementBatch {
    /// The line of the batch file (the header is line 1).
    pub line: u64,
    pub batch_no: String,
    /// `Settle_date`: a full `YYYY-MM-DD HH:MM:SS` time.
    pub settle_date: Timestamp,
    /// Total amount of the batch: payments less refunds.
    pub amount: Amount,
    /// Total fee of the batch.
    pub fee: Amount,
    /// Total settled: amount less fee.
    pub settlement: Amount,
    pub currency: Currency,
}

fn check_header(record: RawRecord<'_>) -> Result<()> {
    if record.len() != SETTLEMENT_BATCH_COLUMNS.len() {
        return Err(file_error(
            Some(record.line),
            format!(
                "the header has {} columns; the settlement batch file's header is {}",
                record.len(),
                SETTLEMENT_BATCH_COLUMNS.join(",")
            ),
        ));
    }
    for (i, want) in SETTLEMENT_BATCH_COLUMNS.iter().enumerate() {
        let got = record.field(i);
        if !got.eq_ignore_ascii_case(want.as_bytes()) {
            return Err(column_error(
                record.line,
                &(i + 1).to_string(),
                format!(
                    "the header has {} where the settlement batch file's header has {want:?} (expected {})",
                    shown(got),
                    SETTLEMENT_BATCH_COLUMNS.join(",")
                ),
            ));
        }
    }
    Ok(())
}

fn decode(r: RawRecord<'_>) -> Result<SettlementBatch> {
    if r.len() != SETTLEMENT_BATCH_COLUMNS.len() {
        return Err(file_error(
            Some(r.line),
            format!("the row has {} fields; the header has 6", r.len()),
        ));
    }
    let column = |i: usize| SETTLEMENT_BATCH_COLUMNS[i];
    let amount = |i: usize| {
        let bytes = r.field(i);
        Amount::parse_exact(bytes).map_err(|e| {
            column_error(
                r.line,
                column(i),
                format!("{} {}", shown(bytes), e.describe()),
            )
        })
    };
    let batch_no = std::str::from_utf8(r.field(0))
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            column_error(
                r.line,
                column(0),
                format!("{} is not a batch number", shown(r.field(0))),
            )
        })?;
    let date_bytes = r.field(1);
    let settle_date = Timestamp::parse(date_bytes).ok_or_else(|| {
        column_error(
            r.line,
            column(1),
            format!(
                "{} is not a time of the form YYYY-MM-DD HH:MM:SS (a real date, 00:00:00–23:59:59)",
                shown(date_bytes)
            ),
        )
    })?;
    let currency_bytes = r.field(5);
    let currency = Currency::parse(currency_bytes).ok_or_else(|| {
        column_error(
            r.line,
            column(5),
            format!(
                "{} is not a currency code of three capital letters, e.g. HKD",
                shown(currency_bytes)
            ),
        )
    })?;
    Ok(SettlementBatch {
        line: r.line,
        batch_no: batch_no.to_owned(),
        settle_date,
        amount: amount(2)?,
        fee: amount(3)?,
        settlement: amount(4)?,
        currency,
    })
}

/// A push parser for the settlement batch file, like
/// [`TransactionParser`](super::TransactionParser).
pub struct SettlementBatchParser {
    file: FileStream,
}

impl Default for SettlementBatchParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SettlementBatchParser {
    pub fn new() -> Self {
        SettlementBatchParser {
            file: FileStream::new("settlement batch file"),
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.file.feed(chunk)
    }

    pub fn end(&mut self) {
        self.file.stream.end();
    }

    /// The next batch; `None` when more input is needed or, after `end`, at the end.
    pub fn next_batch(&mut self) -> Result<Option<SettlementBatch>> {
        match self.file.step(check_header)? {
            RowStep::Row => decode(self.file.stream.record())
                .map(Some)
                .map_err(|e| self.file.fail(e)),
            RowStep::NeedInput | RowStep::End => Ok(None),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.file.stream.is_done()
    }
}

/// Every batch of a settlement batch file held in memory.
pub fn parse_settlement_batches(bytes: &[u8]) -> Result<Vec<SettlementBatch>> {
    let mut parser = SettlementBatchParser::new();
    parser.feed(bytes)?;
    parser.end();
    let mut batches = Vec::new();
    while let Some(batch) = parser.next_batch()? {
        batches.push(batch);
    }
    Ok(batches)
}

/// Every batch of a settlement batch file read from a [`Read`].
pub fn read_settlement_batches(mut inner: impl Read) -> Result<Vec<SettlementBatch>> {
    let mut parser = SettlementBatchParser::new();
    let mut buffer = vec![0; 16 * 1024];
    let mut batches = Vec::new();
    loop {
        while let Some(batch) = parser.next_batch()? {
            batches.push(batch);
        }
        if parser.is_finished() {
            return Ok(batches);
        }
        let n = read_some(&mut inner, &mut buffer)?;
        if n == 0 {
            parser.end();
        } else {
            parser.feed(&buffer[..n])?;
        }
    }
}
