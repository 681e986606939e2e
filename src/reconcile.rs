//! Reconciliation, from JavaScript: the streaming `Reconciler` class (the merchant's records
//! in, the transaction file's bytes pushed in chunks, the report out) and the one-shot
//! `reconcile`. Conversion only: parsing the files, matching and the totals are the core's
//! (core/src/reconcile/). Alipay's rows never become JavaScript objects; only the report does.
//!
//! Why it is long: the report's TypeScript types are generated from Rust, so each struct of
//! the core's report is mirrored here as a `#[napi(object)]` struct and converted field by
//! field; the records reader follows the own-property rules of `records.rs`.

use crate::convert::{
    byte_view, describe, is_nullish, not_a_record, string_of, text_if_string, Text,
};
use crate::js_error::{run, Extra, Fail, Outcome};
use alipayhk_pay_core::limits::MAX_VALUE_CHARS;
use alipayhk_pay_core::reconcile::{
    self as core, Kind, MismatchField, RecordText, SettlementBatch, TransactionParser,
};
use alipayhk_pay_core::{Error, ErrorCode};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::ptr;

/// How much of a string or Buffer is fed to the parser at once (bounded copies).
const FEED_BYTES: usize = 64 * 1024;

// --- the report, generated as TypeScript from these structs ----------------------------------

/// An Alipay row in a finding.
#[napi(object, object_from_js = false)]
pub struct ReconcileAlipayEntry {
    /// The row's line in the transaction file (the header is line 1).
    pub line: i64,
    #[napi(ts_type = "'payment' | 'refund'")]
    pub kind: String,
    /// `out_trade_no` for a payment, `out_return_no` for a refund.
    pub partner_transaction_id: String,
    /// Alipay's id.
    pub transaction_id: String,
    /// For a refund, the `out_trade_no` it refunds.
    pub original_partner_transaction_id: Option<String>,
    /// As written, two decimals (`'12.30'`).
    pub amount: String,
    pub currency: String,
    /// `YYYY-MM-DD HH:MM:SS`.
    pub payment_time: String,
}

/// A merchant record no Alipay row claimed.
#[napi(object, object_from_js = false)]
pub struct ReconcileMerchantEntry {
    #[napi(ts_type = "'payment' | 'refund'")]
    pub kind: String,
    /// The paid order; for a refund, the order it refunds.
    pub out_trade_no: String,
    /// A refund's own id.
    pub out_return_no: Option<String>,
    /// Two decimals (`'12.30'`).
    pub amount: String,
    pub currency: String,
    pub time: Option<String>,
}

/// A row and the merchant's record with the same id that disagree.
#[napi(object, object_from_js = false)]
pub struct ReconcileMismatch {
    pub line: i64,
    #[napi(ts_type = "'payment' | 'refund'")]
    pub kind: String,
    /// `out_trade_no` for a payment, `out_return_no` for a refund.
    pub partner_transaction_id: String,
    pub transaction_id: String,
    /// What differs; `outTradeNo`: a refund's refunded order.
    #[napi(ts_type = "Array<'amount' | 'currency' | 'outTradeNo'>")]
    pub fields: Vec<String>,
    /// A refund's amount by magnitude.
    pub alipay_amount: String,
    pub merchant_amount: String,
    pub alipay_currency: String,
    pub merchant_currency: String,
    /// For a refund: the refunded order on each side.
    pub alipay_out_trade_no: Option<String>,
    pub merchant_out_trade_no: Option<String>,
}

/// The exact number of each finding (the lists may be capped, these never are).
#[napi(object, object_from_js = false)]
pub struct ReconcileCounts {
    pub only_at_alipay: i64,
    pub only_in_merchant: i64,
    pub mismatches: i64,
    pub refunds_without_payment: i64,
    pub duplicates_at_alipay: i64,
}

/// The totals of one day (the date of `Payment_time`) in one currency.
#[napi(object, object_from_js = false)]
pub struct ReconcileDayTotals {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub currency: String,
    pub payment_count: i64,
    /// Sum of the payments.
    pub payments: String,
    pub refund_count: i64,
    /// Sum of the refunds (magnitudes).
    pub refunds: String,
    /// Payment fees less refund fees.
    pub fees: String,
    /// Payment settlements less refund settlements (rows with a settlement).
    pub settlement: String,
    /// Rows with an empty Settlement.
    pub unsettled_count: i64,
    /// payments − refunds − fees = settlement, over the rows with a settlement.
    pub adds_up: bool,
}

/// Net amount, fee and settlement: payments count positive, refunds negative.
#[napi(object, object_from_js = false)]
pub struct ReconcileSums {
    pub amount: String,
    pub fee: String,
    pub settlement: String,
}

/// One settlement day and currency: the batch file's batches against the rows settled then.
#[napi(object, object_from_js = false)]
pub struct ReconcileSettlementCheck {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub currency: String,
    /// The batches of that day and currency (empty: rows settled then, but no batch says so).
    pub batch_nos: Vec<String>,
    /// The batches' totals.
    pub file: ReconcileSums,
    /// The rows' totals.
    pub rows: ReconcileSums,
    pub row_count: i64,
    pub matches: bool,
}

/// What reconciling found. Amounts are strings with two decimals, never floats.
#[napi(object, object_from_js = false)]
pub struct ReconcileReport {
    /// Nothing to look at: no finding, every day adds up, every batch matches its rows.
    pub ok: bool,
    /// Alipay rows read.
    pub rows: i64,
    /// Merchant records given.
    pub records: i64,
    /// Rows that matched a merchant record exactly.
    pub matched: i64,
    pub counts: ReconcileCounts,
    /// Some list holds fewer entries than its count (see `listLimit`).
    pub truncated: bool,
    pub only_at_alipay: Vec<ReconcileAlipayEntry>,
    /// Payments then refunds, by id.
    pub only_in_merchant: Vec<ReconcileMerchantEntry>,
    pub mismatches: Vec<ReconcileMismatch>,
    pub refunds_without_payment: Vec<ReconcileAlipayEntry>,
    pub duplicates_at_alipay: Vec<ReconcileAlipayEntry>,
    /// By date, then currency.
    pub days: Vec<ReconcileDayTotals>,
    /// One per settlement day and currency of the batches given.
    pub settlements: Vec<ReconcileSettlementCheck>,
    /// Rows settled on a day and currency no batch given covers (`batchNos` empty, `file` zero).
    pub settled_without_batch: Vec<ReconcileSettlementCheck>,
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn text<T: ToString>(value: Option<T>) -> Option<String> {
    value.map(|v| v.to_string())
}

fn alipay_entry(e: core::AlipayEntry) -> ReconcileAlipayEntry {
    let core::AlipayEntry {
        line,
        kind,
        partner_transaction_id,
        transaction_id,
        original_partner_transaction_id,
        amount,
        currency,
        payment_time,
    } = e;
    ReconcileAlipayEntry {
        line: count(line),
        kind: kind.as_str().to_owned(),
        partner_transaction_id,
        transaction_id,
        original_partner_transaction_id,
        amount: amount.to_string(),
        currency: currency.to_string(),
        payment_time: payment_time.to_string(),
    }
}

fn merchant_entry(e: core::MerchantEntry) -> ReconcileMerchantEntry {
    let core::MerchantEntry {
        kind,
        out_trade_no,
        out_return_no,
        amount,
        currency,
        time,
    } = e;
    ReconcileMerchantEntry {
        kind: kind.as_str().to_owned(),
        out_trade_no,
        out_return_no,
        amount: amount.to_string(),
        currency: currency.to_string(),
        time: text(time),
    }
}

fn mismatch(m: core::Mismatch) -> ReconcileMismatch {
    let core::Mismatch {
        line,
        kind,
        partner_transaction_id,
        transaction_id,
        fields,
        alipay_amount,
        merchant_amount,
        alipay_currency,
        merchant_currency,
        alipay_out_trade_no,
        merchant_out_trade_no,
    } = m;
    ReconcileMismatch {
        line: count(line),
        kind: kind.as_str().to_owned(),
        partner_transaction_id,
        transaction_id,
        fields: fields
            .into_iter()
            .map(|f| {
                match f {
                    MismatchField::Amount => "amount",
                    MismatchField::Currency => "currency",
                    MismatchField::OutTradeNo => "outTradeNo",
                }
                .to_owned()
            })
            .collect(),
        alipay_amount: alipay_amount.to_string(),
        merchant_amount: merchant_amount.to_string(),
        alipay_currency: alipay_currency.to_string(),
        merchant_currency: merchant_currency.to_string(),
        alipay_out_trade_no,
        merchant_out_trade_no,
    }
}

fn sums(s: core::Sums) -> ReconcileSums {
    let core::Sums {
        amount,
        fee,
        settlement,
    } = s;
    ReconcileSums {
        amount: amount.to_string(),
        fee: fee.to_string(),
        settlement: settlement.to_string(),
    }
}

fn settlement_check(c: core::SettlementCheck) -> ReconcileSettlementCheck {
    let core::SettlementCheck {
        date,
        currency,
        batch_nos,
        file,
        rows,
        row_count,
        matches,
    } = c;
    ReconcileSettlementCheck {
        date: date.to_string(),
        currency: currency.to_string(),
        batch_nos,
        file: sums(file),
        rows: sums(rows),
        row_count: count(row_count),
        matches,
    }
}

fn day(d: core::DayTotals) -> ReconcileDayTotals {
    let core::DayTotals {
        date,
        currency,
        payment_count,
        payments,
        refund_count,
        refunds,
        fees,
        settlement,
        unsettled_count,
        adds_up,
    } = d;
    ReconcileDayTotals {
        date: date.to_string(),
        currency: currency.to_string(),
        payment_count: count(payment_count),
        payments: payments.to_string(),
        refund_count: count(refund_count),
        refunds: refunds.to_string(),
        fees: fees.to_string(),
        settlement: settlement.to_string(),
        unsettled_count: count(unsettled_count),
        adds_up,
    }
}

/// The core's report as the generated type. Destructured without `..`: a field added to the
/// core's report fails to compile here until it is carried over.
fn report_of(r: core::Report) -> ReconcileReport {
    let core::Report {
        ok,
        rows,
        records,
        matched,
        counts,
        truncated,
        only_at_alipay,
        only_in_merchant,
        mismatches,
        refunds_without_payment,
        duplicates_at_alipay,
        days,
        settlements,
        settled_without_batch,
    } = r;
    let core::Counts {
        only_at_alipay: n_only_at_alipay,
        only_in_merchant: n_only_in_merchant,
        mismatches: n_mismatches,
        refunds_without_payment: n_refunds_without_payment,
        duplicates_at_alipay: n_duplicates_at_alipay,
    } = counts;
    ReconcileReport {
        ok,
        rows: count(rows),
        records: count(records),
        matched: count(matched),
        counts: ReconcileCounts {
            only_at_alipay: count(n_only_at_alipay),
            only_in_merchant: count(n_only_in_merchant),
            mismatches: count(n_mismatches),
            refunds_without_payment: count(n_refunds_without_payment),
            duplicates_at_alipay: count(n_duplicates_at_alipay),
        },
        truncated,
        only_at_alipay: only_at_alipay.into_iter().map(alipay_entry).collect(),
        only_in_merchant: only_in_merchant.into_iter().map(merchant_entry).collect(),
        mismatches: mismatches.into_iter().map(mismatch).collect(),
        refunds_without_payment: refunds_without_payment
            .into_iter()
            .map(alipay_entry)
            .collect(),
        duplicates_at_alipay: duplicates_at_alipay.into_iter().map(alipay_entry).collect(),
        days: days.into_iter().map(day).collect(),
        settlements: settlements.into_iter().map(settlement_check).collect(),
        settled_without_batch: settled_without_batch
            .into_iter()
            .map(settlement_check)
            .collect(),
    }
}

// --- file errors: which file ------------------------------------------------------------------

/// A file error with `err.file` naming which file it is about (`'transactions'` or
/// `'settlementBatch'`); `err.field` stays the core's `line N, column X`.
fn in_file(e: Error, file: &'static str) -> Fail {
    if e.code == ErrorCode::InvalidFile {
        Fail::Detailed(e, vec![("file", Extra::Text(file.to_owned()))])
    } else {
        Fail::Core(e)
    }
}

// --- bytes from JavaScript --------------------------------------------------------------------

/// A string's UTF-8 or a Buffer's / Uint8Array's bytes, handed to `body` without a copy for
/// bytes. `what` names the argument in errors.
fn with_bytes<T>(
    value: &Unknown<'_>,
    field: &str,
    what: &str,
    body: impl FnOnce(&[u8]) -> Outcome<T>,
) -> Outcome<T> {
    match value.get_type()? {
        ValueType::String => {
            let text = string_of(value)?.ok_or_else(|| {
                Error::argument(
                    field,
                    format!("{field} holds a lone UTF-16 surrogate, which has no UTF-8 form"),
                )
            })?;
            body(text.as_bytes())
        }
        ValueType::Object if byte_view(value)?.is_some() => {
            // Borrowed: nothing runs JavaScript while `body` reads it.
            let bytes = byte_view(value)?.unwrap_or_default();
            body(bytes)
        }
        _ => Err(Error::argument(
            field,
            format!(
                "{field} must be {what} as a string, Buffer or Uint8Array; got {}",
                describe(value)?
            ),
        )
        .into()),
    }
}

/// Feeds bytes to the parser in bounded pieces, pushing every complete row.
fn feed(
    reconciler: &mut core::Reconciler,
    parser: &mut TransactionParser,
    bytes: &[u8],
) -> Outcome<u64> {
    let mut rows = 0;
    for piece in bytes.chunks(FEED_BYTES) {
        parser.feed(piece).map_err(|e| in_file(e, "transactions"))?;
        rows += reconciler
            .push_all(parser)
            .map_err(|e| in_file(e, "transactions"))?;
    }
    Ok(rows)
}

/// The settlement batch file(s): a text, bytes, an array of those, or nothing.
fn batches_of(value: Option<&Unknown<'_>>) -> Outcome<Vec<SettlementBatch>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    if is_nullish(value)? {
        return Ok(Vec::new());
    }
    const WHAT: &str = "the settlement batch file (PID_settlebatch_YYYYMMDD.csv)";
    let parse = |bytes: &[u8]| -> Outcome<Vec<SettlementBatch>> {
        core::parse_settlement_batches(bytes).map_err(|e| in_file(e, "settlementBatch"))
    };
    if value.is_array()? {
        let array: Object = unsafe { value.cast()? };
        let mut all = Vec::new();
        for i in 0..array.get_array_length()? {
            let item: Unknown = array.get_element(i)?;
            let field = format!("settlementBatch[{i}]");
            all.extend(with_bytes(&item, &field, WHAT, parse)?);
        }
        return Ok(all);
    }
    with_bytes(value, "settlementBatch", WHAT, parse)
}

// --- merchant records from JavaScript ----------------------------------------------------------

const RECORD_SHAPE: &str = "{ kind: 'payment' | 'refund', outTradeNo, outReturnNo (refunds only), amount: '12.30', currency: 'HKD', time?: 'YYYY-MM-DD HH:MM:SS' }";

/// The property names of a record, made once per call.
struct Names {
    kind: sys::napi_value,
    out_trade_no: [sys::napi_value; 2],
    out_return_no: [sys::napi_value; 2],
    amount: sys::napi_value,
    currency: sys::napi_value,
    time: sys::napi_value,
}

fn name(env: &Env, text: &str) -> Result<sys::napi_value> {
    Ok(env.create_string(text)?.raw())
}

impl Names {
    fn new(env: &Env) -> Result<Self> {
        Ok(Names {
            kind: name(env, "kind")?,
            out_trade_no: [name(env, "outTradeNo")?, name(env, "out_trade_no")?],
            out_return_no: [name(env, "outReturnNo")?, name(env, "out_return_no")?],
            amount: name(env, "amount")?,
            currency: name(env, "currency")?,
            time: name(env, "time")?,
        })
    }
}

fn record_error(index: u64, field: &str, message: impl AsRef<str>) -> Fail {
    core::record_error(index, field, message).into()
}

/// A string field of a record: `object[key]` when it is an own property, `None` when it is
/// absent, `null`, `undefined` or inherited (a prototype's value is never taken).
fn text_field(
    env: sys::napi_env,
    object: sys::napi_value,
    key: sys::napi_value,
    index: u64,
    field: &str,
) -> Outcome<Option<String>> {
    let mut value = ptr::null_mut();
    check_status!(unsafe { sys::napi_get_property(env, object, key, &mut value) })?;
    let value = unsafe { Unknown::from_raw_unchecked(env, value) };
    let own = || -> Result<bool> {
        let mut has = false;
        check_status!(unsafe { sys::napi_has_own_property(env, object, key, &mut has) })?;
        Ok(has)
    };
    match text_if_string(&value, MAX_VALUE_CHARS)? {
        Some(_) if !own()? => Ok(None),
        Some(Text::Ok(s)) => Ok(Some(s)),
        Some(Text::LoneSurrogate) => Err(record_error(
            index,
            field,
            "holds a lone UTF-16 surrogate, which has no UTF-8 form",
        )),
        Some(Text::TooLong(n)) => Err(record_error(
            index,
            field,
            format!("is {n} characters long; at most {MAX_VALUE_CHARS} are read"),
        )),
        None if is_nullish(&value)? || !own()? => Ok(None),
        None => {
            let hint = if field == "amount" && value.get_type()? == ValueType::Number {
                " such as '12.30' (a number cannot hold every amount exactly)"
            } else {
                ""
            };
            Err(record_error(
                index,
                field,
                format!("must be a string{hint}; got {}", describe(&value)?),
            ))
        }
    }
}

fn required(value: Option<String>, index: u64, field: &str) -> Outcome<String> {
    value.ok_or_else(|| {
        record_error(
            index,
            field,
            format!("is required; a record is {RECORD_SHAPE}"),
        )
    })
}

/// The error for an element that is not a record object; `what` names it when known.
fn record_shape_error(
    value: &Unknown<'_>,
    index: u64,
    what: Option<&'static str>,
) -> Outcome<Fail> {
    let field = format!("merchantRecords[{index}]");
    let got = match what {
        Some(what) => what,
        None => describe(value)?,
    };
    Ok(Error::argument(
        &field,
        format!("{field} must be a record {RECORD_SHAPE}; got {got}"),
    )
    .into())
}

/// Reads one record's own properties and adds it.
fn add_object(
    env: &Env,
    reconciler: &mut core::Reconciler,
    value: &Unknown<'_>,
    names: &Names,
) -> Outcome<()> {
    let index = reconciler.records();
    if value.get_type()? != ValueType::Object || value.is_array()? {
        return Err(record_shape_error(value, index, None)?);
    }
    let raw_env = env.raw();
    let object = value.raw();
    let get = |key, field| text_field(raw_env, object, key, index, field);
    let either = |keys: [sys::napi_value; 2], field| -> Outcome<Option<String>> {
        Ok(match get(keys[0], field)? {
            Some(v) => Some(v),
            None => get(keys[1], field)?,
        })
    };
    let kind = match get(names.kind, "kind")? {
        Some(kind) => kind,
        None => {
            // A Buffer, a Map, a Promise …: say what it is rather than that `kind` is missing.
            if let Some(what) = not_a_record(env, value)? {
                return Err(record_shape_error(value, index, Some(what))?);
            }
            required(None, index, "kind")?
        }
    };
    let kind = Kind::of_record(&kind, index)?;
    let out_trade_no = required(
        either(names.out_trade_no, "outTradeNo")?,
        index,
        "outTradeNo",
    )?;
    let out_return_no = either(names.out_return_no, "outReturnNo")?;
    let amount = required(get(names.amount, "amount")?, index, "amount")?;
    let currency = required(get(names.currency, "currency")?, index, "currency")?;
    let time = get(names.time, "time")?;
    // The core parses and checks the values (amount, currency, time, ids, duplicates, …).
    reconciler.add_text(RecordText {
        kind,
        out_trade_no: &out_trade_no,
        out_return_no: out_return_no.as_deref(),
        amount: &amount,
        currency: &currency,
        time: time.as_deref(),
    })?;
    Ok(())
}

/// Records read per handle scope: a million records leave no million handles behind.
const RECORDS_PER_SCOPE: u32 = 1024;

/// An array of record objects.
fn add_objects(env: &Env, reconciler: &mut core::Reconciler, array: &Unknown<'_>) -> Outcome<u64> {
    let names = Names::new(env)?;
    let array: Object = unsafe { array.cast()? };
    let raw_env = env.raw();
    let before = reconciler.records();
    let len = array.get_array_length()?;
    let mut start = 0;
    while start < len {
        let end = len.min(start + RECORDS_PER_SCOPE);
        let mut scope = ptr::null_mut();
        check_status!(unsafe { sys::napi_open_handle_scope(raw_env, &mut scope) })?;
        let added = (start..end).try_for_each(|i| {
            let item = array.get_element::<Unknown>(i)?;
            add_object(env, reconciler, &item, &names)
        });
        check_status!(unsafe { sys::napi_close_handle_scope(raw_env, scope) })?;
        added?;
        start = end;
    }
    Ok(reconciler.records() - before)
}

/// Records as an array of objects, or as JSON (an array or JSON lines) in a string or Buffer.
fn add_records(
    env: &Env,
    reconciler: &mut core::Reconciler,
    records: &Unknown<'_>,
) -> Outcome<u64> {
    if records.is_array()? {
        return add_objects(env, reconciler, records);
    }
    if records.get_type()? == ValueType::String || byte_view(records)?.is_some() {
        return with_bytes(records, "merchantRecords", "JSON", |bytes| {
            Ok(reconciler.add_json_records(bytes)?)
        });
    }
    Err(Error::argument(
        "merchantRecords",
        format!(
            "merchantRecords must be an array of records {RECORD_SHAPE}, or their JSON (an array or JSON lines) as a string or Buffer; got {}",
            describe(records)?
        ),
    )
    .into())
}

/// `{ listLimit?: number }`: how many entries each list of the report holds (10,000 by
/// default; the counts are always exact).
fn list_limit_of(options: Option<&Unknown<'_>>) -> Outcome<Option<usize>> {
    let Some(options) = options else {
        return Ok(None);
    };
    if is_nullish(options)? {
        return Ok(None);
    }
    if options.get_type()? != ValueType::Object || options.is_array()? {
        return Err(Error::argument(
            "options",
            format!(
                "options must be {{ listLimit?: number }}; got {}",
                describe(options)?
            ),
        )
        .into());
    }
    let object: Object = unsafe { options.cast()? };
    let limit: Unknown = crate::convert::own_field(&object, "listLimit")?;
    if is_nullish(&limit)? {
        return Ok(None);
    }
    let n = match limit.get_type()? {
        ValueType::Number => limit.coerce_to_number()?.get_double()?,
        _ => f64::NAN,
    };
    if !(n.fract() == 0.0 && (0.0..=1e9).contains(&n)) {
        return Err(Error::argument(
            "options.listLimit",
            "options.listLimit must be a whole number from 0 to 1,000,000,000 (entries per list of the report)",
        )
        .into());
    }
    Ok(Some(n as usize))
}

fn new_reconciler(options: Option<&Unknown<'_>>) -> Outcome<core::Reconciler> {
    let mut reconciler = core::Reconciler::new();
    if let Some(limit) = list_limit_of(options)? {
        reconciler.set_list_limit(limit);
    }
    Ok(reconciler)
}

// --- the JavaScript surface -------------------------------------------------------------------

struct Running {
    reconciler: core::Reconciler,
    parser: TransactionParser,
}

/// Reconciles a day's transaction file with the merchant's books as the file streams in:
/// add every merchant record first, then push the file's bytes in chunks of any size (cut
/// anywhere), then `finish` with the settlement batch file. Memory is bounded by the records,
/// not by the file: the rows are never kept.
///
/// @example
/// ```ts
/// const r = new Reconciler()
/// r.addRecords([{ kind: 'payment', outTradeNo: 'A1', amount: '12.30', currency: 'HKD' }])
/// for await (const chunk of fs.createReadStream('2088…_fptrade_20240501.csv')) r.push(chunk)
/// const report = r.finish(fs.readFileSync('2088…_settlebatch_20240501.csv'))
/// if (!report.ok) console.log(report.counts)
/// ```
#[napi]
pub struct Reconciler {
    running: Option<Running>,
}

fn finished() -> Fail {
    Error::argument(
        "reconciler",
        "this Reconciler has finished; make a new one for another file",
    )
    .into()
}

#[napi]
impl Reconciler {
    /// `options.listLimit`: how many entries each list of the report holds (10,000 by
    /// default; the counts are always exact).
    #[napi(constructor, ts_args_type = "options?: ReconcileOptions")]
    pub fn new(env: Env, this: This<Unknown>, options: Option<Unknown>) -> Result<Self> {
        run(&env, || {
            crate::convert::require_new::<Reconciler>(
                &env,
                &this,
                "Reconciler",
                "new Reconciler(options?)",
            )?;
            Ok(Reconciler {
                running: Some(Running {
                    reconciler: new_reconciler(options.as_ref())?,
                    parser: TransactionParser::new(),
                }),
            })
        })
    }

    fn running(&mut self) -> Outcome<&mut Running> {
        self.running.as_mut().ok_or_else(finished)
    }

    /// Adds merchant records, before the first `push`: an array of record objects (own
    /// properties read), or their JSON (an array, or one record per line) as a string or
    /// Buffer, which is the faster way for a large ledger. Returns how many were added.
    /// Throws `ERR_ALIPAYHK_INVALID_ARGUMENT` with `field` `merchantRecords[i].amount` (and
    /// so on), `i` counting every record given to this reconciler; the records before it stay.
    #[napi(
        ts_args_type = "records: ReadonlyArray<MerchantRecord> | string | Buffer | Uint8Array",
        ts_return_type = "number"
    )]
    pub fn add_records(&mut self, env: Env, records: Unknown) -> Result<u32> {
        run(&env, || {
            let running = self.running()?;
            let n = add_records(&env, &mut running.reconciler, &records)?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    /// Feeds the next bytes of the transaction file (`PID_fptrade_YYYYMMDD.csv`, or a
    /// settlement file `PID_settle_…csv`) and reconciles every row they complete; returns how
    /// many. Throws `ERR_ALIPAYHK_INVALID_FILE` (`err.field` `line N, column X`, `err.file`
    /// `'transactions'`) at the first bad row; every later call throws it again.
    #[napi(
        ts_args_type = "chunk: string | Buffer | Uint8Array",
        ts_return_type = "number"
    )]
    pub fn push(&mut self, env: Env, chunk: Unknown) -> Result<u32> {
        run(&env, || {
            let Running { reconciler, parser } = self.running()?;
            let n = with_bytes(&chunk, "chunk", "bytes of the transaction file", |bytes| {
                feed(reconciler, parser, bytes)
            })?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    /// Ends the transaction file and returns the report, with each batch of the settlement
    /// batch file(s) given (`PID_settlebatch_YYYYMMDD.csv`: a string, Buffer, or an array of
    /// them) checked against the rows settled on its day. A bad batch file throws
    /// `ERR_ALIPAYHK_INVALID_FILE` with `err.file` `'settlementBatch'` and leaves the
    /// reconciler as it was; after a report, the reconciler is spent.
    #[napi(
        ts_args_type = "settlementBatch?: string | Buffer | Uint8Array | ReadonlyArray<string | Buffer | Uint8Array> | null",
        ts_return_type = "ReconcileReport"
    )]
    pub fn finish(
        &mut self,
        env: Env,
        settlement_batch: Option<Unknown>,
    ) -> Result<ReconcileReport> {
        run(&env, || {
            self.running()?;
            let batches = batches_of(settlement_batch.as_ref())?;
            let Running { reconciler, parser } = self.running()?;
            parser.end();
            reconciler
                .push_all(parser)
                .map_err(|e| in_file(e, "transactions"))?;
            let Some(Running { reconciler, .. }) = self.running.take() else {
                return Err(finished());
            };
            Ok(report_of(reconciler.finish(&batches)?))
        })
    }

    /// Merchant records added so far.
    #[napi(getter)]
    pub fn records(&self) -> i64 {
        self.running
            .as_ref()
            .map_or(0, |r| count(r.reconciler.records()))
    }

    /// Alipay rows reconciled so far.
    #[napi(getter)]
    pub fn rows(&self) -> i64 {
        self.running
            .as_ref()
            .map_or(0, |r| count(r.reconciler.rows()))
    }

    /// `finish` has returned the report.
    #[napi(getter)]
    pub fn finished(&self) -> bool {
        self.running.is_none()
    }
}

/// Reconciles a whole transaction file held in memory (a string or Buffer) with the
/// merchant's records and, optionally, the settlement batch file(s). For a file on disk or a
/// stream, `reconcileFile` reads it in chunks with bounded memory.
///
/// @example
/// ```ts
/// const report = reconcile(fs.readFileSync(tradeFile), records, fs.readFileSync(batchFile))
/// ```
#[napi(
    ts_args_type = "transactionFile: string | Buffer | Uint8Array, merchantRecords: ReadonlyArray<MerchantRecord> | string | Buffer | Uint8Array, settlementBatch?: string | Buffer | Uint8Array | ReadonlyArray<string | Buffer | Uint8Array> | null, options?: ReconcileOptions",
    ts_return_type = "ReconcileReport"
)]
pub fn reconcile(
    env: Env,
    transaction_file: Unknown,
    merchant_records: Unknown,
    settlement_batch: Option<Unknown>,
    options: Option<Unknown>,
) -> Result<ReconcileReport> {
    run(&env, || {
        let mut reconciler = new_reconciler(options.as_ref())?;
        add_records(&env, &mut reconciler, &merchant_records)?;
        let batches = batches_of(settlement_batch.as_ref())?;
        let mut parser = TransactionParser::new();
        with_bytes(
            &transaction_file,
            "transactionFile",
            "the transaction file (PID_fptrade_YYYYMMDD.csv)",
            |bytes| feed(&mut reconciler, &mut parser, bytes),
        )?;
        parser.end();
        reconciler
            .push_all(&mut parser)
            .map_err(|e| in_file(e, "transactions"))?;
        Ok(report_of(reconciler.finish(&batches)?))
    })
}
