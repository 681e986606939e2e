//! The transaction file `PID_fptrade_YYYYMMDD.csv` (protocol §8.7). The settlement files
//! `PID_settle_YYYYMMDD_BatchID.csv` have the same columns and are read the same way.
//!
//! Its header names 14 columns; a data row may carry one field more: an unnamed column
//! between Fee and Settlement (Alipay's own column list numbers Fee 4 and Settlement 6, and
//! the documented sample row `…,0.10,0.00,,0.10,HKD,…` only makes sense with it). A header
//! that names a 15th column in that place is accepted too; then every row must have 15.

use super::amount::{Amount, AmountError};
use super::stream::{FileStream, RawRecord, RowStep};
use super::values::{Currency, Timestamp};
use super::{column_error, file_error, shown};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io::Read;

/// The header of the transaction file, in order (compared without case, spaces trimmed).
pub const TRANSACTION_COLUMNS: [&str; 14] = [
    "Partner_transaction_id",
    "Transaction_id",
    "Amount",
    "Fee",
    "Settlement",
    "Currency",
    "Payment_time",
    "Settlement_time",
    "Issue",
    "Product",
    "Type",
    "Status",
    "Remarks",
    "Original_partner_transaction_ID",
];

const PARTNER_ID: usize = 0;
const TRANSACTION_ID: usize = 1;
const AMOUNT: usize = 2;
const FEE: usize = 3;
const SETTLEMENT: usize = 4;
const CURRENCY: usize = 5;
const PAYMENT_TIME: usize = 6;
const SETTLEMENT_TIME: usize = 7;
const ISSUE: usize = 8;
const PRODUCT: usize = 9;
const TYPE: usize = 10;
const STATUS: usize = 11;
const REMARKS: usize = 12;
const ORIGINAL_ID: usize = 13;
/// Where the unnamed column sits when a row has it (after Fee).
const UNNAMED_AT: usize = 4;
const UNNAMED_NAME: &str = "5 (unnamed, after Fee)";

/// A payment or a refund (the file's Type `P` / `R`). Serialised `"payment"` / `"refund"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Payment,
    Refund,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Payment => "payment",
            Kind::Refund => "refund",
        }
    }
}

/// The file's Status: `P` done (payment made, or refund succeeded), `L` liquidated.
/// Serialised `"P"` / `"L"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    #[serde(rename = "P")]
    Done,
    #[serde(rename = "L")]
    Liquidated,
}

/// The wallet that paid (Issue): `ALIPAYCN` (Alipay, mainland) or `ALIPAYHK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Issue {
    #[serde(rename = "ALIPAYCN")]
    AlipayCn,
    #[serde(rename = "ALIPAYHK")]
    AlipayHk,
}

/// One row of the transaction file, borrowing its text from the parser (no allocation per
/// row). Every value is trimmed of the spaces around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRecord<'a> {
    /// The physical line the row starts on (the header is line 1).
    pub line: u64,
    /// `out_trade_no` for a payment, `out_return_no` for a refund. Never empty.
    pub partner_transaction_id: &'a str,
    /// Alipay's id. Never empty.
    pub transaction_id: &'a str,
    pub amount: Amount,
    pub fee: Amount,
    /// The unnamed column after Fee, as written (`""` when the row has no such column).
    pub unnamed: &'a str,
    /// `None` when empty (not settled yet).
    pub settlement: Option<Amount>,
    pub currency: Currency,
    pub payment_time: Timestamp,
    /// `None` when empty (not settled yet).
    pub settlement_time: Option<Timestamp>,
    pub issue: Issue,
    /// `Cross_wap` for these trades; kept as written.
    pub product: &'a str,
    pub kind: Kind,
    pub status: Status,
    /// Free text; bytes that are not UTF-8 are replaced with U+FFFD.
    pub remarks: Cow<'a, str>,
    /// For a refund, the `out_trade_no` of the payment it refunds. `None` when empty.
    pub original_partner_transaction_id: Option<&'a str>,
}

/// A [`TransactionRecord`] that owns its text. Serialised with camelCase names
/// (`partnerTransactionId`, `type`, …); amounts and times as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionRow {
    pub line: u64,
    pub partner_transaction_id: String,
    pub transaction_id: String,
    pub amount: Amount,
    pub fee: Amount,
    pub unnamed: String,
    pub settlement: Option<Amount>,
    pub currency: Currency,
    pub payment_time: Timestamp,
    pub settlement_time: Option<Timestamp>,
    pub issue: Issue,
    pub product: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub status: Status,
    pub remarks: String,
    pub original_partner_transaction_id: Option<String>,
}

impl TransactionRecord<'_> {
    pub fn to_row(&self) -> TransactionRow {
        TransactionRow {
            line: self.line,
            partner_transaction_id: self.partner_transaction_id.to_owned(),
            transaction_id: self.transaction_id.to_owned(),
            amount: self.amount,
            fee: self.fee,
            unnamed: self.unnamed.to_owned(),
            settlement: self.settlement,
            currency: self.currency,
            payment_time: self.payment_time,
            settlement_time: self.settlement_time,
            issue: self.issue,
            product: self.product.to_owned(),
            kind: self.kind,
            status: self.status,
            remarks: self.remarks.clone().into_owned(),
            original_partner_transaction_id: self
                .original_partner_transaction_id
                .map(str::to_owned),
        }
    }
}

impl TransactionRow {
    pub fn as_record(&self) -> TransactionRecord<'_> {
        TransactionRecord {
            line: self.line,
            partner_transaction_id: &self.partner_transaction_id,
            transaction_id: &self.transaction_id,
            amount: self.amount,
            fee: self.fee,
            unnamed: &self.unnamed,
            settlement: self.settlement,
            currency: self.currency,
            payment_time: self.payment_time,
            settlement_time: self.settlement_time,
            issue: self.issue,
            product: &self.product,
            kind: self.kind,
            status: self.status,
            remarks: Cow::Borrowed(&self.remarks),
            original_partner_transaction_id: self.original_partner_transaction_id.as_deref(),
        }
    }
}

/// Which header the file has: 14 names, or 15 with a name in the unnamed column's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    header_has_unnamed: bool,
}

fn check_header(record: RawRecord<'_>) -> Result<Layout> {
    let header_has_unnamed = record.len() == TRANSACTION_COLUMNS.len() + 1;
    if record.len() != TRANSACTION_COLUMNS.len() && !header_has_unnamed {
        return Err(file_error(
            Some(record.line),
            format!(
                "the header has {} columns; the transaction file's header is {}",
                record.len(),
                TRANSACTION_COLUMNS.join(",")
            ),
        ));
    }
    for (i, want) in TRANSACTION_COLUMNS.iter().enumerate() {
        let at = if header_has_unnamed && i >= UNNAMED_AT {
            i + 1
        } else {
            i
        };
        let got = record.field(at);
        if !got.eq_ignore_ascii_case(want.as_bytes()) {
            return Err(column_error(
                record.line,
                &(at + 1).to_string(),
                format!(
                    "the header has {} where the transaction file's header has {want:?} (expected {})",
                    shown(got),
                    TRANSACTION_COLUMNS.join(",")
                ),
            ));
        }
    }
    Ok(Layout { header_has_unnamed })
}

#[inline]
fn text<'a>(r: &RawRecord<'a>, at: usize, column: usize) -> Result<&'a str> {
    let bytes = r.field(at);
    std::str::from_utf8(bytes).map_err(|_| {
        column_error(
            r.line,
            TRANSACTION_COLUMNS[column],
            format!("{} is not UTF-8 text", shown(bytes)),
        )
    })
}

#[inline]
fn required_text<'a>(r: &RawRecord<'a>, at: usize, column: usize) -> Result<&'a str> {
    let value = text(r, at, column)?;
    if value.is_empty() {
        return Err(column_error(
            r.line,
            TRANSACTION_COLUMNS[column],
            "is empty; every row carries this id",
        ));
    }
    Ok(value)
}

#[inline]
fn money(r: &RawRecord<'_>, at: usize, column: usize) -> Result<Amount> {
    let bytes = r.field(at);
    Amount::parse_exact(bytes).map_err(|e| amount_error(r, bytes, column, e))
}

#[inline]
fn optional_amount(r: &RawRecord<'_>, at: usize, column: usize) -> Result<Option<Amount>> {
    let bytes = r.field(at);
    if bytes.is_empty() {
        return Ok(None);
    }
    Amount::parse_exact(bytes)
        .map(Some)
        .map_err(|e| amount_error(r, bytes, column, e))
}

#[cold]
fn amount_error(r: &RawRecord<'_>, bytes: &[u8], column: usize, e: AmountError) -> Error {
    let what = if bytes.is_empty() {
        "is empty".to_string()
    } else {
        shown(bytes)
    };
    let message = match e {
        AmountError::Empty => {
            format!("{what}; an amount with two decimals is required, e.g. 12.30")
        }
        _ => format!("{what} {}", e.describe()),
    };
    column_error(r.line, TRANSACTION_COLUMNS[column], message)
}

#[inline]
fn timestamp(r: &RawRecord<'_>, at: usize, column: usize) -> Result<Timestamp> {
    let bytes = r.field(at);
    Timestamp::parse(bytes).ok_or_else(|| time_error(r, bytes, column))
}

#[cold]
fn time_error(r: &RawRecord<'_>, bytes: &[u8], column: usize) -> Error {
    column_error(
        r.line,
        TRANSACTION_COLUMNS[column],
        format!(
            "{} is not a time of the form YYYY-MM-DD HH:MM:SS (a real date, 00:00:00–23:59:59)",
            shown(bytes)
        ),
    )
}

#[cold]
fn value_error(r: &RawRecord<'_>, bytes: &[u8], column: usize, allowed: &str) -> Error {
    column_error(
        r.line,
        TRANSACTION_COLUMNS[column],
        format!("{} is not {allowed}", shown(bytes)),
    )
}

fn decode<'a>(layout: Layout, r: RawRecord<'a>) -> Result<TransactionRecord<'a>> {
    let with_unnamed = match r.len() {
        14 if !layout.header_has_unnamed => false,
        15 => true,
        n => {
            return Err(file_error(
                Some(r.line),
                if layout.header_has_unnamed {
                    format!("the row has {n} fields; the header has 15")
                } else {
                    format!(
                        "the row has {n} fields; the header has 14 (a row may have 15, with the unnamed column after Fee)"
                    )
                },
            ))
        }
    };
    // Where column `i` of TRANSACTION_COLUMNS is in this row.
    let at = |i: usize| {
        if with_unnamed && i >= UNNAMED_AT {
            i + 1
        } else {
            i
        }
    };

    // Checked left to right, so that an error names the first bad column of the line.
    let partner_transaction_id = required_text(&r, at(PARTNER_ID), PARTNER_ID)?;
    let transaction_id = required_text(&r, at(TRANSACTION_ID), TRANSACTION_ID)?;
    let amount = money(&r, at(AMOUNT), AMOUNT)?;
    let fee = money(&r, at(FEE), FEE)?;
    let unnamed = if with_unnamed {
        let bytes = r.field(UNNAMED_AT);
        std::str::from_utf8(bytes).map_err(|_| {
            column_error(
                r.line,
                UNNAMED_NAME,
                format!("{} is not UTF-8 text", shown(bytes)),
            )
        })?
    } else {
        ""
    };
    let settlement = optional_amount(&r, at(SETTLEMENT), SETTLEMENT)?;
    let currency_bytes = r.field(at(CURRENCY));
    let currency = Currency::parse(currency_bytes).ok_or_else(|| {
        value_error(
            &r,
            currency_bytes,
            CURRENCY,
            "a currency code of three capital letters, e.g. HKD",
        )
    })?;
    let payment_time = timestamp(&r, at(PAYMENT_TIME), PAYMENT_TIME)?;
    let settlement_time = {
        let bytes = r.field(at(SETTLEMENT_TIME));
        if bytes.is_empty() {
            None
        } else {
            Some(Timestamp::parse(bytes).ok_or_else(|| time_error(&r, bytes, SETTLEMENT_TIME))?)
        }
    };
    let issue = match r.field(at(ISSUE)) {
        b"ALIPAYHK" => Issue::AlipayHk,
        b"ALIPAYCN" => Issue::AlipayCn,
        other => return Err(value_error(&r, other, ISSUE, "ALIPAYCN or ALIPAYHK")),
    };
    let product = text(&r, at(PRODUCT), PRODUCT)?;
    let kind = match r.field(at(TYPE)) {
        b"P" => Kind::Payment,
        b"R" => Kind::Refund,
        other => return Err(value_error(&r, other, TYPE, "P (payment) or R (refund)")),
    };
    let status = match r.field(at(STATUS)) {
        b"P" => Status::Done,
        b"L" => Status::Liquidated,
        other => return Err(value_error(&r, other, STATUS, "P (done) or L (liquidated)")),
    };
    let remarks = String::from_utf8_lossy(r.field(at(REMARKS)));
    let original = text(&r, at(ORIGINAL_ID), ORIGINAL_ID)?;
    Ok(TransactionRecord {
        line: r.line,
        partner_transaction_id,
        transaction_id,
        amount,
        fee,
        unnamed,
        settlement,
        currency,
        payment_time,
        settlement_time,
        issue,
        product,
        kind,
        status,
        remarks,
        original_partner_transaction_id: if original.is_empty() {
            None
        } else {
            Some(original)
        },
    })
}

/// A push parser for the transaction file (or a settlement file): feed it byte chunks of
/// any size, as they arrive, and take the rows out as they complete.
///
/// ```
/// # use alipayhk_pay_core::reconcile::TransactionParser;
/// let mut parser = TransactionParser::new();
/// let mut ids = Vec::new();
/// for chunk in [&b"Partner_transaction_id,Transaction_id,Amount,Fee,Settlement,Currency,Paym"[..],
///               b"ent_time,Settlement_time,Issue,Product,Type,Status,Remarks,Original_partner_transaction_ID\n",
///               b"A1 ,T1 ,0.10,0.00,,0.10,HKD,2017-05-02 14:41:14,2017-05-23 15:36:00,ALIPAYCN,Cross_wap,P,P,test1,\n"] {
///     parser.feed(chunk)?;
///     while let Some(row) = parser.next_row()? {
///         ids.push(row.partner_transaction_id.to_string());
///     }
/// }
/// parser.end();
/// while let Some(row) = parser.next_row()? {
///     ids.push(row.partner_transaction_id.to_string());
/// }
/// assert!(parser.is_finished());
/// assert_eq!(ids, ["A1"]);
/// # Ok::<(), alipayhk_pay_core::Error>(())
/// ```
pub struct TransactionParser {
    file: FileStream,
    layout: Layout,
}

impl Default for TransactionParser {
    fn default() -> Self {
        Self::new()
    }
}

impl TransactionParser {
    pub fn new() -> Self {
        TransactionParser {
            file: FileStream::new("transaction file"),
            layout: Layout {
                header_has_unnamed: false,
            },
        }
    }

    /// Adds a chunk of the file (any size, cut anywhere). Call [`TransactionParser::next_row`]
    /// until it answers `None` before feeding the next chunk, so that memory stays bounded.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.file.feed(chunk)
    }

    /// Says the file has ended (a last line without a line end is then read).
    pub fn end(&mut self) {
        self.file.stream.end();
    }

    /// The next complete row, or `None` when the bytes fed so far hold no further complete
    /// row (feed more), or, after [`TransactionParser::end`], when the file is finished.
    /// The first error is final: every later call returns it again.
    pub fn next_row(&mut self) -> Result<Option<TransactionRecord<'_>>> {
        match self.step()? {
            RowStep::Row => self.current().map(Some),
            RowStep::NeedInput | RowStep::End => Ok(None),
        }
    }

    fn step(&mut self) -> Result<RowStep> {
        let layout = &mut self.layout;
        self.file.step(|record| {
            *layout = check_header(record)?;
            Ok(())
        })
    }

    fn current(&self) -> Result<TransactionRecord<'_>> {
        match decode(self.layout, self.file.stream.record()) {
            Ok(record) => Ok(record),
            Err(e) => Err(self.file.fail(e)),
        }
    }

    /// Feeds a chunk and returns the rows it completed, owned (allocates; for bindings that
    /// hand rows on as objects).
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<TransactionRow>> {
        self.feed(chunk)?;
        self.drain()
    }

    /// Ends the file and returns the rows still to read, owned.
    pub fn finish(&mut self) -> Result<Vec<TransactionRow>> {
        self.end();
        let rows = self.drain()?;
        debug_assert!(self.is_finished());
        Ok(rows)
    }

    fn drain(&mut self) -> Result<Vec<TransactionRow>> {
        let mut rows = Vec::new();
        while let Some(row) = self.next_row()? {
            rows.push(row.to_row());
        }
        Ok(rows)
    }

    /// The file has ended and every row has been read.
    pub fn is_finished(&self) -> bool {
        self.file.stream.is_done()
    }

    /// Data rows read so far (the header not counted).
    pub fn rows(&self) -> u64 {
        self.file.rows()
    }

    /// Bytes of buffer held (the unread part of the last chunk and one record).
    pub fn buffered_bytes(&self) -> usize {
        self.file.stream.buffered_bytes()
    }
}

/// The transaction file (or a settlement file) read from a [`Read`] in chunks of 64 KiB.
/// [`TransactionReader::next_row`] borrows each row; as an [`Iterator`] it yields owned rows.
pub struct TransactionReader<R> {
    inner: R,
    parser: TransactionParser,
    buffer: Box<[u8]>,
    failed: bool,
}

impl<R: Read> TransactionReader<R> {
    pub fn new(inner: R) -> Self {
        TransactionReader {
            inner,
            parser: TransactionParser::new(),
            buffer: vec![0; 64 * 1024].into_boxed_slice(),
            failed: false,
        }
    }

    /// The next row, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<TransactionRecord<'_>>> {
        loop {
            match self.parser.step()? {
                RowStep::Row => return self.parser.current().map(Some),
                RowStep::End => return Ok(None),
                RowStep::NeedInput => {
                    let n = read_some(&mut self.inner, &mut self.buffer)
                        .map_err(|e| self.parser.file.fail(e))?;
                    if n == 0 {
                        self.parser.end();
                    } else {
                        self.parser.feed(&self.buffer[..n])?;
                    }
                }
            }
        }
    }

    pub fn rows(&self) -> u64 {
        self.parser.rows()
    }
}

impl<R: Read> Iterator for TransactionReader<R> {
    type Item = Result<TransactionRow>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_row() {
            Ok(row) => row.map(|r| Ok(r.to_row())),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// One `read`, retried when interrupted; an I/O error becomes a coded error.
pub(crate) fn read_some(inner: &mut impl Read, buffer: &mut [u8]) -> Result<usize> {
    loop {
        match inner.read(buffer) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(file_error(None, format!("reading the file failed: {e}"))),
        }
    }
}
