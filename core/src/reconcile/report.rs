//! Reconciling Alipay's rows with the merchant's records, and the report.
//!
//! The merchant's records sit in two hash maps (payments by `out_trade_no`, refunds by
//! `out_return_no`); Alipay's rows are then pushed one at a time and never kept, so memory
//! is bounded by the merchant's records, the per-day totals and the listed findings (each
//! list is capped, see [`Reconciler::set_list_limit`]; the counts are always exact).
//!
//! What a row is:
//! - a payment (`P`) whose `Partner_transaction_id` is a payment `out_trade_no` of the
//!   merchant with the same amount and currency: matched; with another amount or currency:
//!   a [`Mismatch`]; unknown to the merchant: only at Alipay;
//! - a refund (`R`) whose `Original_partner_transaction_ID` is empty, or is neither a
//!   payment of the merchant nor the `out_trade_no` of the merchant's refund with this
//!   `out_return_no`: a refund without its payment; otherwise matched against the merchant's
//!   refund `out_return_no` = `Partner_transaction_id` on amount, currency and the refunded
//!   `out_trade_no`. A refund's amount is compared by magnitude (the file's sign convention
//!   for refunds is not documented);
//! - a second row for a record already matched: a duplicate at Alipay.
//!
//! Records no row claimed are only in the merchant's books.
//!
//! Per day (the date of `Payment_time`) and currency the report sums payments, refunds, fees
//! (payment fees less refund fees) and settlement (payment settlements less refund
//! settlements); these add up when payments − refunds − fees = settlement over the rows that
//! carry a settlement (rows with an empty Settlement are counted as unsettled). Per settlement
//! day (the date of `Settlement_time`) and currency the rows' net amount, fee and settlement
//! are compared with the settlement batch file's batches of that day and currency.

use super::amount::Amount;
use super::records::{AddError, Expected, MerchantRecord, RecordIndex};
use super::settlement::SettlementBatch;
use super::transactions::{
    Kind, TransactionParser, TransactionReader, TransactionRecord, TransactionRow,
};
use super::values::{Currency, Date, Timestamp};
use crate::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::io::Read;

/// How many entries each list of the report holds unless told otherwise.
pub const DEFAULT_LIST_LIMIT: usize = 10_000;

/// An Alipay row in a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlipayEntry {
    pub line: u64,
    pub kind: Kind,
    pub partner_transaction_id: String,
    pub transaction_id: String,
    pub original_partner_transaction_id: Option<String>,
    pub amount: Amount,
    pub currency: Currency,
    pub payment_time: Timestamp,
}

impl AlipayEntry {
    fn of(row: &TransactionRecord<'_>) -> Self {
        AlipayEntry {
            line: row.line,
            kind: row.kind,
            partner_transaction_id: row.partner_transaction_id.to_owned(),
            transaction_id: row.transaction_id.to_owned(),
            original_partner_transaction_id: row.original_partner_transaction_id.map(str::to_owned),
            amount: row.amount,
            currency: row.currency,
            payment_time: row.payment_time,
        }
    }
}

/// A merchant record no Alipay row claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantEntry {
    pub kind: Kind,
    pub out_trade_no: String,
    pub out_return_no: Option<String>,
    pub amount: Amount,
    pub currency: Currency,
    pub time: Option<Timestamp>,
}

/// What differs between a row and the merchant's record of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MismatchField {
    Amount,
    Currency,
    /// A refund's refunded order: the row's `Original_partner_transaction_ID` against the
    /// merchant refund's `out_trade_no`.
    OutTradeNo,
}

/// A row and a merchant record with the same id that disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mismatch {
    pub line: u64,
    pub kind: Kind,
    /// `out_trade_no` for a payment, `out_return_no` for a refund.
    pub partner_transaction_id: String,
    pub transaction_id: String,
    pub fields: Vec<MismatchField>,
    pub alipay_amount: Amount,
    pub merchant_amount: Amount,
    pub alipay_currency: Currency,
    pub merchant_currency: Currency,
    /// For a refund: the refunded order on each side.
    pub alipay_out_trade_no: Option<String>,
    pub merchant_out_trade_no: Option<String>,
}

/// Exact numbers of each finding (the lists may be capped, these never are).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub only_at_alipay: u64,
    pub only_in_merchant: u64,
    pub mismatches: u64,
    pub refunds_without_payment: u64,
    pub duplicates_at_alipay: u64,
}

impl Counts {
    fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// The totals of one day (date of `Payment_time`) in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DayTotals {
    pub date: Date,
    pub currency: Currency,
    pub payment_count: u64,
    /// Sum of the payments' amounts.
    pub payments: Amount,
    pub refund_count: u64,
    /// Sum of the refunds' amounts (magnitudes).
    pub refunds: Amount,
    /// Payment fees less refund fees.
    pub fees: Amount,
    /// Payment settlements less refund settlements (rows with a settlement).
    pub settlement: Amount,
    /// Rows with an empty Settlement.
    pub unsettled_count: u64,
    /// payments − refunds − fees = settlement, over the rows with a settlement.
    pub adds_up: bool,
}

/// Net amount, fee and settlement: payments count positive, refunds negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sums {
    pub amount: Amount,
    pub fee: Amount,
    pub settlement: Amount,
}

/// One settlement day and currency: the batch file's batches against the rows settled then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementCheck {
    pub date: Date,
    pub currency: Currency,
    /// The batches of that day and currency (empty: rows settled then, but no batch says so).
    pub batch_nos: Vec<String>,
    /// The batches' totals.
    pub file: Sums,
    /// The rows' totals.
    pub rows: Sums,
    pub row_count: u64,
    pub matches: bool,
}

/// What reconciling found. Serialised with camelCase names; amounts, dates and times as
/// strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Nothing to look at: no finding, every day adds up, every batch matches its rows.
    pub ok: bool,
    /// Alipay rows read.
    pub rows: u64,
    /// Merchant records given.
    pub records: u64,
    /// Rows that matched a merchant record exactly.
    pub matched: u64,
    pub counts: Counts,
    /// Some list below holds fewer entries than its count.
    pub truncated: bool,
    pub only_at_alipay: Vec<AlipayEntry>,
    /// Sorted: payments then refunds, by id.
    pub only_in_merchant: Vec<MerchantEntry>,
    pub mismatches: Vec<Mismatch>,
    pub refunds_without_payment: Vec<AlipayEntry>,
    pub duplicates_at_alipay: Vec<AlipayEntry>,
    /// By date, then currency.
    pub days: Vec<DayTotals>,
    /// One per settlement day and currency of the batches given, by date then currency.
    pub settlements: Vec<SettlementCheck>,
    /// Rows settled on a day and currency no batch given covers (for information: the
    /// batch file of that day was not given); `batchNos` is empty, `file` zero.
    pub settled_without_batch: Vec<SettlementCheck>,
}

type Key = (u32, Currency);

#[derive(Default, Clone, Copy)]
struct DayAcc {
    payment_count: u64,
    payments: i128,
    refund_count: u64,
    refunds: i128,
    fees: i128,
    settlement: i128,
    settled_net: i128,
    unsettled_count: u64,
}

#[derive(Default, Clone, Copy)]
struct SumAcc {
    count: u64,
    amount: i128,
    fee: i128,
    settlement: i128,
}

/// A small map for the few days and currencies of a file: a vector searched from the entry
/// used last.
struct Groups<T> {
    entries: Vec<(Key, T)>,
    last: usize,
}

impl<T: Default> Groups<T> {
    fn new() -> Self {
        Groups {
            entries: Vec::new(),
            last: 0,
        }
    }

    #[inline]
    fn get(&mut self, key: Key) -> &mut T {
        if self.entries.get(self.last).is_some_and(|(k, _)| *k == key) {
            return &mut self.entries[self.last].1;
        }
        let i = match self.entries.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.entries.push((key, T::default()));
                self.entries.len() - 1
            }
        };
        self.last = i;
        &mut self.entries[i].1
    }

    fn sorted(mut self) -> Vec<(Key, T)> {
        self.entries.sort_by_key(|(k, _)| *k);
        self.entries
    }
}

#[derive(Default)]
struct Findings {
    limit: usize,
    counts: Counts,
    only_at_alipay: Vec<AlipayEntry>,
    mismatches: Vec<Mismatch>,
    refunds_without_payment: Vec<AlipayEntry>,
    duplicates_at_alipay: Vec<AlipayEntry>,
}

impl Findings {
    #[cold]
    fn only_at_alipay(&mut self, row: &TransactionRecord<'_>) {
        self.counts.only_at_alipay += 1;
        if self.only_at_alipay.len() < self.limit {
            self.only_at_alipay.push(AlipayEntry::of(row));
        }
    }

    #[cold]
    fn refund_without_payment(&mut self, row: &TransactionRecord<'_>) {
        self.counts.refunds_without_payment += 1;
        if self.refunds_without_payment.len() < self.limit {
            self.refunds_without_payment.push(AlipayEntry::of(row));
        }
    }

    #[cold]
    fn duplicate(&mut self, row: &TransactionRecord<'_>) {
        self.counts.duplicates_at_alipay += 1;
        if self.duplicates_at_alipay.len() < self.limit {
            self.duplicates_at_alipay.push(AlipayEntry::of(row));
        }
    }

    #[cold]
    fn mismatch(
        &mut self,
        row: &TransactionRecord<'_>,
        fields: Vec<MismatchField>,
        e: &Expected,
        merchant_out_trade_no: Option<&str>,
    ) {
        self.counts.mismatches += 1;
        if self.mismatches.len() < self.limit {
            let refund = row.kind == Kind::Refund;
            self.mismatches.push(Mismatch {
                line: row.line,
                kind: row.kind,
                partner_transaction_id: row.partner_transaction_id.to_owned(),
                transaction_id: row.transaction_id.to_owned(),
                fields,
                alipay_amount: if refund { row.amount.abs() } else { row.amount },
                merchant_amount: e.amount,
                alipay_currency: row.currency,
                merchant_currency: e.currency,
                alipay_out_trade_no: if refund {
                    row.original_partner_transaction_id.map(str::to_owned)
                } else {
                    None
                },
                merchant_out_trade_no: merchant_out_trade_no.map(str::to_owned),
            });
        }
    }
}

/// Reconciles in a stream: add every merchant record first, then push Alipay's rows one by
/// one, then [`Reconciler::finish`].
pub struct Reconciler {
    payments: RecordIndex,
    refunds: RecordIndex,
    records: u64,
    rows: u64,
    matched: u64,
    findings: Findings,
    days: Groups<DayAcc>,
    settled: Groups<SumAcc>,
}

impl Default for Reconciler {
    fn default() -> Self {
        Self::new()
    }
}

/// The error of merchant record `index`: `ERR_ALIPAYHK_INVALID_ARGUMENT` with field
/// `merchantRecords[i].<field>` (or `merchantRecords[i]` for an empty `field`), the message
/// starting with that field. The one shape for every reader of records (JSON, a binding).
pub fn record_error(index: u64, field: &str, message: impl AsRef<str>) -> Error {
    let field = if field.is_empty() {
        format!("merchantRecords[{index}]")
    } else {
        format!("merchantRecords[{index}].{field}")
    };
    Error::with_field(
        ErrorCode::InvalidArgument,
        field.clone(),
        format!("{field}: {}", message.as_ref()),
    )
}

/// A merchant record as text, as a ledger or a caller holds it: the kind read, the rest
/// still strings. [`Reconciler::add_text`] parses them with the record rules.
#[derive(Debug, Clone, Copy)]
pub struct RecordText<'a> {
    pub kind: Kind,
    pub out_trade_no: &'a str,
    pub out_return_no: Option<&'a str>,
    /// Zero to two decimals, e.g. `"12.30"`.
    pub amount: &'a str,
    /// Three capital letters, e.g. `"HKD"`.
    pub currency: &'a str,
    /// `YYYY-MM-DD HH:MM:SS`, optional.
    pub time: Option<&'a str>,
}

impl Kind {
    /// A record's kind, `"payment"` or `"refund"`; anything else is the error of record
    /// `index`'s `kind`.
    pub fn of_record(text: &str, index: u64) -> Result<Kind> {
        match text {
            "payment" => Ok(Kind::Payment),
            "refund" => Ok(Kind::Refund),
            other => Err(record_error(
                index,
                "kind",
                format!("{other:?} is not 'payment' or 'refund'"),
            )),
        }
    }
}

impl Reconciler {
    pub fn new() -> Self {
        Self::with_capacity(0, 0)
    }

    /// Room for this many payment and refund records up front.
    pub fn with_capacity(payments: usize, refunds: usize) -> Self {
        Reconciler {
            payments: RecordIndex::with_capacity(payments),
            refunds: RecordIndex::with_capacity(refunds),
            records: 0,
            rows: 0,
            matched: 0,
            findings: Findings {
                limit: DEFAULT_LIST_LIMIT,
                ..Findings::default()
            },
            days: Groups::new(),
            settled: Groups::new(),
        }
    }

    /// Merchant records added so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Alipay rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// How many entries each list of the report may hold (the counts stay exact).
    pub fn set_list_limit(&mut self, limit: usize) {
        self.findings.limit = limit;
    }

    /// Adds one merchant record. Errors (`ERR_ALIPAYHK_INVALID_ARGUMENT`, field
    /// `merchantRecords[i].…`): an empty id, a refund without `outReturnNo` or a payment with
    /// one, a negative amount, an id given twice, a record added after the first row.
    pub fn add(&mut self, record: MerchantRecord) -> Result<()> {
        self.add_parts(
            record.kind,
            &record.out_trade_no,
            record.out_return_no.as_deref(),
            record.amount,
            record.currency,
            record.time,
        )
    }

    /// Adds one merchant record given as text: the amount, currency and time are parsed
    /// (errors name `merchantRecords[i].amount`, `.currency`, `.time`), then it is added as by
    /// [`Reconciler::add`].
    pub fn add_text(&mut self, r: RecordText<'_>) -> Result<()> {
        let index = self.records;
        let amount = Amount::parse(r.amount).map_err(|e| {
            record_error(index, "amount", format!("{:?} {}", r.amount, e.describe()))
        })?;
        let currency = Currency::parse(r.currency.as_bytes()).ok_or_else(|| {
            record_error(
                index,
                "currency",
                format!("{:?} is not three capital letters, e.g. HKD", r.currency),
            )
        })?;
        let time = match r.time {
            None => None,
            Some(t) => Some(Timestamp::parse(t.as_bytes()).ok_or_else(|| {
                record_error(
                    index,
                    "time",
                    format!("{t:?} is not a real YYYY-MM-DD HH:MM:SS time"),
                )
            })?),
        };
        self.add_parts(
            r.kind,
            r.out_trade_no,
            r.out_return_no,
            amount,
            currency,
            time,
        )
    }

    fn add_parts(
        &mut self,
        kind: Kind,
        out_trade_no: &str,
        out_return_no: Option<&str>,
        amount: Amount,
        currency: Currency,
        time: Option<Timestamp>,
    ) -> Result<()> {
        match kind {
            Kind::Payment => {
                if out_return_no.is_some_and(|s| !s.is_empty()) {
                    return Err(record_error(
                        self.records,
                        "outReturnNo",
                        "a payment has no outReturnNo; give kind \"refund\" for a refund",
                    ));
                }
                self.add_payment(out_trade_no, amount, currency, time)
            }
            Kind::Refund => self.add_refund(
                out_return_no.unwrap_or(""),
                out_trade_no,
                amount,
                currency,
                time,
            ),
        }
    }

    /// Adds a payment of the merchant's books.
    pub fn add_payment(
        &mut self,
        out_trade_no: &str,
        amount: Amount,
        currency: Currency,
        time: Option<Timestamp>,
    ) -> Result<()> {
        self.check_record(out_trade_no, "outTradeNo", amount)?;
        match self
            .payments
            .insert(out_trade_no, None, amount, currency, time)
        {
            Ok(()) => {
                self.records += 1;
                Ok(())
            }
            Err(AddError::Duplicate) => Err(record_error(
                self.records,
                "outTradeNo",
                format!("payment {out_trade_no:?} is given twice; each out_trade_no is paid once"),
            )),
            Err(AddError::Full) => Err(too_many(self.records)),
        }
    }

    /// Adds a refund of the merchant's books: its own id and the order it refunds.
    pub fn add_refund(
        &mut self,
        out_return_no: &str,
        out_trade_no: &str,
        amount: Amount,
        currency: Currency,
        time: Option<Timestamp>,
    ) -> Result<()> {
        self.check_record(out_return_no, "outReturnNo", amount)?;
        if out_trade_no.is_empty() {
            return Err(record_error(
                self.records,
                "outTradeNo",
                "is empty; a refund names the out_trade_no it refunds",
            ));
        }
        match self
            .refunds
            .insert(out_return_no, Some(out_trade_no), amount, currency, time)
        {
            Ok(()) => {
                self.records += 1;
                Ok(())
            }
            Err(AddError::Duplicate) => Err(record_error(
                self.records,
                "outReturnNo",
                format!(
                    "refund {out_return_no:?} is given twice; each out_return_no is one refund"
                ),
            )),
            Err(AddError::Full) => Err(too_many(self.records)),
        }
    }

    fn check_record(&self, id: &str, field: &str, amount: Amount) -> Result<()> {
        if self.rows > 0 {
            return Err(record_error(
                self.records,
                field,
                "records must all be added before the first Alipay row is pushed",
            ));
        }
        if id.is_empty() {
            return Err(record_error(self.records, field, "is empty"));
        }
        if amount.cents() < 0 {
            return Err(record_error(
                self.records,
                "amount",
                format!("{amount} is negative; a record's amount is positive"),
            ));
        }
        Ok(())
    }

    /// Takes one Alipay row into account.
    pub fn push(&mut self, row: &TransactionRecord<'_>) {
        self.rows += 1;
        self.add_to_totals(row);
        match row.kind {
            Kind::Payment => match self.payments.get_mut(row.partner_transaction_id) {
                None => self.findings.only_at_alipay(row),
                Some((e, _)) if e.seen => self.findings.duplicate(row),
                Some((e, _)) => {
                    e.seen = true;
                    let mut fields = Vec::new();
                    if row.amount != e.amount {
                        fields.push(MismatchField::Amount);
                    }
                    if row.currency != e.currency {
                        fields.push(MismatchField::Currency);
                    }
                    if fields.is_empty() {
                        self.matched += 1;
                    } else {
                        self.findings.mismatch(row, fields, e, None);
                    }
                }
            },
            Kind::Refund => {
                let record = self.refunds.get_mut(row.partner_transaction_id);
                let payment_known = row.original_partner_transaction_id.is_some_and(|o| {
                    record.as_ref().is_some_and(|(_, of)| *of == Some(o))
                        || self.payments.contains(o)
                });
                match record {
                    _ if !payment_known => {
                        if let Some((e, _)) = record {
                            e.seen = true;
                        }
                        self.findings.refund_without_payment(row);
                    }
                    None => self.findings.only_at_alipay(row),
                    Some((e, _)) if e.seen => self.findings.duplicate(row),
                    Some((e, of)) => {
                        e.seen = true;
                        let mut fields = Vec::new();
                        if row.amount.abs() != e.amount {
                            fields.push(MismatchField::Amount);
                        }
                        if row.currency != e.currency {
                            fields.push(MismatchField::Currency);
                        }
                        if row.original_partner_transaction_id != of {
                            fields.push(MismatchField::OutTradeNo);
                        }
                        if fields.is_empty() {
                            self.matched += 1;
                        } else {
                            self.findings.mismatch(row, fields, e, of);
                        }
                    }
                }
            }
        }
    }

    /// Pushes every row the parser holds complete (after a `feed`, or after `end`), and
    /// answers how many: `parser.feed(chunk)?; reconciler.push_all(&mut parser)?;`.
    pub fn push_all(&mut self, parser: &mut TransactionParser) -> Result<u64> {
        let mut n = 0;
        while let Some(row) = parser.next_row()? {
            self.push(&row);
            n += 1;
        }
        Ok(n)
    }

    #[inline]
    fn add_to_totals(&mut self, row: &TransactionRecord<'_>) {
        let sign: i128 = match row.kind {
            Kind::Payment => 1,
            Kind::Refund => -1,
        };
        let amount = i128::from(row.amount.abs().cents());
        let fee = i128::from(row.fee.abs().cents());
        let day = self.days.get((row.payment_time.date.key(), row.currency));
        match row.kind {
            Kind::Payment => {
                day.payment_count += 1;
                day.payments += amount;
            }
            Kind::Refund => {
                day.refund_count += 1;
                day.refunds += amount;
            }
        }
        day.fees += sign * fee;
        match row.settlement {
            Some(s) => {
                let s = sign * i128::from(s.abs().cents());
                day.settlement += s;
                day.settled_net += sign * (amount - fee);
            }
            None => day.unsettled_count += 1,
        }
        if let Some(t) = row.settlement_time {
            let group = self.settled.get((t.date.key(), row.currency));
            group.count += 1;
            group.amount += sign * amount;
            group.fee += sign * fee;
            group.settlement += sign * row.settlement.map_or(0, |s| i128::from(s.abs().cents()));
        }
    }

    /// The report, with every batch of the settlement batch file(s) given checked against
    /// the rows settled on its day in its currency. Errors only when a total does not fit
    /// (`ERR_ALIPAYHK_INVALID_FILE`): amounts beyond anything a real file holds.
    pub fn finish(self, batches: &[SettlementBatch]) -> Result<Report> {
        let Reconciler {
            payments,
            refunds,
            records,
            rows,
            matched,
            mut findings,
            days,
            settled,
        } = self;

        let mut only_in_merchant = Vec::new();
        let mut unseen = 0u64;
        for (kind, index) in [(Kind::Payment, &payments), (Kind::Refund, &refunds)] {
            let mut ids: Vec<(&str, Option<&str>, &Expected)> = index.unseen().collect();
            unseen += ids.len() as u64;
            ids.sort_unstable_by_key(|(id, _, _)| *id);
            for (id, of, e) in ids {
                if only_in_merchant.len() >= findings.limit {
                    break;
                }
                only_in_merchant.push(match kind {
                    Kind::Payment => MerchantEntry {
                        kind,
                        out_trade_no: id.to_owned(),
                        out_return_no: None,
                        amount: e.amount,
                        currency: e.currency,
                        time: e.time,
                    },
                    Kind::Refund => MerchantEntry {
                        kind,
                        out_trade_no: of.unwrap_or("").to_owned(),
                        out_return_no: Some(id.to_owned()),
                        amount: e.amount,
                        currency: e.currency,
                        time: e.time,
                    },
                });
            }
        }
        findings.counts.only_in_merchant = unseen;

        let days = days
            .sorted()
            .into_iter()
            .map(|((date, currency), d)| {
                Ok(DayTotals {
                    date: Date::from_key(date),
                    currency,
                    payment_count: d.payment_count,
                    payments: amount_of(d.payments)?,
                    refund_count: d.refund_count,
                    refunds: amount_of(d.refunds)?,
                    fees: amount_of(d.fees)?,
                    settlement: amount_of(d.settlement)?,
                    unsettled_count: d.unsettled_count,
                    adds_up: d.settled_net == d.settlement,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        // The batches, summed per settlement day and currency.
        let mut file_groups: Vec<(Key, Vec<String>, SumAcc)> = Vec::new();
        for b in batches {
            let key = (b.settle_date.date.key(), b.currency);
            let i = match file_groups.iter().position(|(k, _, _)| *k == key) {
                Some(i) => i,
                None => {
                    file_groups.push((key, Vec::new(), SumAcc::default()));
                    file_groups.len() - 1
                }
            };
            let (_, nos, sums) = &mut file_groups[i];
            nos.push(b.batch_no.clone());
            sums.count += 1;
            sums.amount += i128::from(b.amount.cents());
            sums.fee += i128::from(b.fee.cents());
            sums.settlement += i128::from(b.settlement.cents());
        }
        file_groups.sort_by_key(|(k, _, _)| *k);
        let settled = settled.sorted();
        let mut settlements = Vec::new();
        for ((date, currency), batch_nos, file) in file_groups {
            let rows = settled
                .iter()
                .find(|(k, _)| *k == (date, currency))
                .map(|(_, s)| *s)
                .unwrap_or_default();
            let file_sums = sums_of(&file)?;
            let row_sums = sums_of(&rows)?;
            settlements.push(SettlementCheck {
                date: Date::from_key(date),
                currency,
                batch_nos,
                matches: file_sums == row_sums,
                file: file_sums,
                rows: row_sums,
                row_count: rows.count,
            });
        }
        let mut settled_without_batch = Vec::new();
        for ((date, currency), rows) in &settled {
            if settlements
                .iter()
                .any(|c| c.date.key() == *date && c.currency == *currency)
            {
                continue;
            }
            settled_without_batch.push(SettlementCheck {
                date: Date::from_key(*date),
                currency: *currency,
                batch_nos: Vec::new(),
                file: Sums::default(),
                rows: sums_of(rows)?,
                row_count: rows.count,
                matches: false,
            });
        }

        let counts = findings.counts;
        let truncated = counts.only_at_alipay > findings.only_at_alipay.len() as u64
            || counts.only_in_merchant > only_in_merchant.len() as u64
            || counts.mismatches > findings.mismatches.len() as u64
            || counts.refunds_without_payment > findings.refunds_without_payment.len() as u64
            || counts.duplicates_at_alipay > findings.duplicates_at_alipay.len() as u64;
        let ok = counts.is_zero()
            && days.iter().all(|d| d.adds_up)
            && settlements.iter().all(|s| s.matches);
        Ok(Report {
            ok,
            rows,
            records,
            matched,
            counts,
            truncated,
            only_at_alipay: findings.only_at_alipay,
            only_in_merchant,
            mismatches: findings.mismatches,
            refunds_without_payment: findings.refunds_without_payment,
            duplicates_at_alipay: findings.duplicates_at_alipay,
            days,
            settlements,
            settled_without_batch,
        })
    }
}

fn too_many(index: u64) -> Error {
    record_error(
        index,
        "outTradeNo",
        "the records' ids pass 4 GiB; reconcile in smaller parts",
    )
}

fn amount_of(total: i128) -> Result<Amount> {
    i64::try_from(total).map(Amount::from_cents).map_err(|_| {
        Error::with_field(
            ErrorCode::InvalidFile,
            "file",
            "a total of the file does not fit in 64-bit cents; no real file holds such amounts",
        )
    })
}

fn sums_of(acc: &SumAcc) -> Result<Sums> {
    Ok(Sums {
        amount: amount_of(acc.amount)?,
        fee: amount_of(acc.fee)?,
        settlement: amount_of(acc.settlement)?,
    })
}

/// Reconciles rows already parsed (owned or borrowed [`TransactionRow`]s) with the merchant's
/// records and the settlement batch file's batches.
pub fn reconcile<I>(
    rows: I,
    records: impl IntoIterator<Item = MerchantRecord>,
    batches: &[SettlementBatch],
) -> Result<Report>
where
    I: IntoIterator,
    I::Item: Borrow<TransactionRow>,
{
    let mut reconciler = Reconciler::new();
    for record in records {
        reconciler.add(record)?;
    }
    for row in rows {
        reconciler.push(&row.borrow().as_record());
    }
    reconciler.finish(batches)
}

/// Reconciles a transaction file (or settlement file) read from a [`Read`] in a stream.
pub fn reconcile_reader(
    file: impl Read,
    records: impl IntoIterator<Item = MerchantRecord>,
    batches: &[SettlementBatch],
) -> Result<Report> {
    let mut reconciler = Reconciler::new();
    for record in records {
        reconciler.add(record)?;
    }
    let mut reader = TransactionReader::new(file);
    while let Some(row) = reader.next_row()? {
        reconciler.push(&row);
    }
    reconciler.finish(batches)
}
