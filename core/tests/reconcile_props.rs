//! Property tests for §8.7: files written by an independent CSV writer (the `csv` crate) with
//! the documented quirks come back row for row however they are cut into chunks; any bytes
//! give rows or a coded error, never a panic; and reconciling agrees with a plain reference
//! implementation (its per-day totals read back with the `csv` crate's own reader).

use crate::reconcile_support;

use alipayhk_pay_core::reconcile::{
    reconcile_reader, Amount, Currency, Issue, Kind, MerchantRecord, Status, TransactionParser,
    TransactionRow,
};
use alipayhk_pay_core::ErrorCode;
use proptest::prelude::*;
use reconcile_support::*;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone)]
struct GenRow {
    id: String,
    txid: String,
    amount: i64,
    fee: i64,
    unnamed: Option<String>,
    settlement: Option<i64>,
    currency: String,
    payment_time: String,
    settlement_time: Option<String>,
    issue: Issue,
    product: String,
    kind: Kind,
    status: Status,
    remarks: String,
    original: Option<String>,
    pad: bool,
}

fn time() -> impl Strategy<Value = String> {
    (
        2000u32..2100,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
    )
        .prop_map(|(y, mo, d, h, mi, s)| format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"))
}

fn gen_row() -> impl Strategy<Value = GenRow> {
    (
        (
            "[A-Za-z0-9_-]{1,32}",
            "[0-9]{1,28}",
            -100_000_000_000i64..100_000_000_000,
            -1_000_000i64..1_000_000,
            proptest::option::of("[a-zA-Z0-9 ,\"]{0,6}"),
            proptest::option::of(-100_000_000_000i64..100_000_000_000),
            "[A-Z]{3}",
            time(),
        ),
        (
            proptest::option::of(time()),
            any::<bool>(),
            "[A-Za-z_]{0,12}",
            any::<bool>(),
            any::<bool>(),
            // Remarks: commas, quotes, line breaks, non-ASCII, blanks around.
            "[ a-zA-Z0-9,\"\r\n\t中文é]{0,24}",
            proptest::option::of("[A-Za-z0-9_-]{1,32}"),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (id, txid, amount, fee, unnamed, settlement, currency, payment_time),
                (settlement_time, hk, product, refund, liquidated, remarks, original, pad),
            )| GenRow {
                id,
                txid,
                amount,
                fee,
                unnamed,
                settlement,
                currency,
                payment_time,
                settlement_time,
                issue: if hk { Issue::AlipayHk } else { Issue::AlipayCn },
                product,
                kind: if refund { Kind::Refund } else { Kind::Payment },
                status: if liquidated {
                    Status::Liquidated
                } else {
                    Status::Done
                },
                remarks,
                original,
                pad,
            },
        )
}

impl GenRow {
    fn record(&self) -> Vec<String> {
        let p = |s: String| if self.pad { format!("{s} ") } else { s };
        let mut f = vec![
            p(self.id.clone()),
            p(self.txid.clone()),
            p(money(self.amount)),
            money(self.fee),
        ];
        if let Some(u) = &self.unnamed {
            f.push(u.clone());
        }
        f.extend([
            self.settlement.map(money).map(p).unwrap_or_default(),
            self.currency.clone(),
            self.payment_time.clone(),
            self.settlement_time.clone().unwrap_or_default(),
            match self.issue {
                Issue::AlipayHk => "ALIPAYHK",
                Issue::AlipayCn => "ALIPAYCN",
            }
            .to_string(),
            self.product.clone(),
            match self.kind {
                Kind::Payment => "P",
                Kind::Refund => "R",
            }
            .to_string(),
            match self.status {
                Status::Done => "P",
                Status::Liquidated => "L",
            }
            .to_string(),
            self.remarks.clone(),
            self.original.clone().unwrap_or_default(),
        ]);
        f
    }

    fn expected(&self, line: u64) -> TransactionRow {
        let trim = |s: &str| s.trim_matches([' ', '\t']).to_string();
        TransactionRow {
            line,
            partner_transaction_id: self.id.clone(),
            transaction_id: self.txid.clone(),
            amount: Amount::from_cents(self.amount),
            fee: Amount::from_cents(self.fee),
            unnamed: self.unnamed.as_deref().map(trim).unwrap_or_default(),
            settlement: self.settlement.map(Amount::from_cents),
            currency: Currency::parse(self.currency.as_bytes()).unwrap(),
            payment_time: self.payment_time.parse_ts(),
            settlement_time: self.settlement_time.as_ref().map(|t| t.parse_ts()),
            issue: self.issue,
            product: self.product.clone(),
            kind: self.kind,
            status: self.status,
            remarks: trim(&self.remarks),
            original_partner_transaction_id: self.original.clone(),
        }
    }
}

trait ParseTs {
    fn parse_ts(&self) -> alipayhk_pay_core::reconcile::Timestamp;
}

impl ParseTs for String {
    fn parse_ts(&self) -> alipayhk_pay_core::reconcile::Timestamp {
        alipayhk_pay_core::reconcile::Timestamp::parse(self.as_bytes()).unwrap()
    }
}

/// The file as the `csv` crate writes it (quoting what needs quoting), with the header
/// (its case and padding varied), a BOM or not, `\r\n` or `\n`, a last line end or not.
fn write_file(
    rows: &[GenRow],
    bom: bool,
    crlf: bool,
    last_newline: bool,
    loose_header: bool,
) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(b"\xef\xbb\xbf");
    }
    let terminator = if crlf {
        csv::Terminator::CRLF
    } else {
        csv::Terminator::Any(b'\n')
    };
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(terminator)
        .from_writer(Vec::new());
    let header: Vec<String> = SAMPLE_HEADER
        .split(',')
        .map(|h| {
            if loose_header {
                format!(" {} ", h.to_uppercase())
            } else {
                h.to_string()
            }
        })
        .collect();
    writer.write_record(&header).unwrap();
    let mut lines = Vec::new();
    let mut line = 2u64;
    for row in rows {
        let record = row.record();
        lines.push(line);
        line += 1 + record
            .iter()
            .map(|f| f.matches('\n').count() as u64)
            .sum::<u64>();
        writer.write_record(&record).unwrap();
    }
    out.extend(writer.into_inner().unwrap());
    if !last_newline && !rows.is_empty() {
        let cut = if crlf { 2 } else { 1 };
        out.truncate(out.len() - cut);
    }
    (out, lines)
}

fn cut_into(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut from = 0;
    for p in points {
        chunks.push(bytes[from..p].to_vec());
        from = p;
    }
    chunks.push(bytes[from..].to_vec());
    chunks
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn written_files_come_back_row_for_row(
        rows in proptest::collection::vec(gen_row(), 0..12),
        bom: bool, crlf: bool, last_newline: bool, loose_header: bool,
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let (file, lines) = write_file(&rows, bom, crlf, last_newline, loose_header);
        let chunks = cut_into(&file, &cuts);
        let parsed = parse_chunks(chunks.iter().map(|c| c.as_slice()));
        let parsed = parsed.map_err(|e| TestCaseError::fail(format!("{e:?}\n{}", String::from_utf8_lossy(&file))))?;
        let expected: Vec<TransactionRow> = rows.iter().zip(&lines).map(|(r, &l)| r.expected(l)).collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn any_bytes_give_rows_or_a_coded_error(
        header_first: bool,
        body in proptest::collection::vec(prop_oneof![
            Just(b','), Just(b'"'), Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'.'),
            Just(b'P'), Just(b'R'), Just(b'L'), Just(b'0'), Just(b'9'), Just(0xef), Just(0xff),
            any::<u8>(),
        ], 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut file = Vec::new();
        if header_first {
            file.extend_from_slice(SAMPLE_HEADER.as_bytes());
            file.push(b'\n');
        }
        file.extend_from_slice(&body);
        let chunks = cut_into(&file, &cuts);
        let whole = parse(&file);
        let cut = parse_chunks(chunks.iter().map(|c| c.as_slice()));
        prop_assert_eq!(&whole, &cut);
        if let Err(e) = whole {
            prop_assert_eq!(e.code, ErrorCode::InvalidFile);
            let field = e.field.clone().unwrap();
            prop_assert!(field == "file" || field.starts_with("line "), "{}", field);
            prop_assert!(e.message.starts_with(&field) || field == "file", "{}", e.message);
        }
    }
}

// --- Reconciling against a reference ----------------------------------------------------

#[derive(Debug, Clone)]
struct Scenario {
    lines: Vec<Line>,
    records: Vec<MerchantRecord>,
}

/// Payments and refunds, each kept, dropped, altered or duplicated on one side or the other.
fn scenario() -> impl Strategy<Value = Scenario> {
    let payment = (1i64..100_000, 0u8..10, 0u8..3);
    let refund = (0usize..40, 1i64..5_000, 0u8..10);
    (
        proptest::collection::vec(payment, 0..40),
        proptest::collection::vec(refund, 0..15),
    )
        .prop_map(|(payments, refunds)| {
            let mut lines = Vec::new();
            let mut records = Vec::new();
            for (i, (cents, fate, day)) in payments.iter().enumerate() {
                let id = format!("P{i}");
                let mut line = Line::payment(&id, *cents);
                line.payment_time = format!("2017-05-0{} 10:00:00", 1 + day);
                let record =
                    MerchantRecord::payment(&id, Amount::from_cents(*cents), Currency::HKD);
                match fate {
                    0 => records.push(record), // only in the books
                    1 => lines.push(line),     // only at Alipay
                    2 => {
                        records.push(MerchantRecord {
                            amount: Amount::from_cents(cents + 1),
                            ..record
                        });
                        lines.push(line);
                    }
                    3 => {
                        records.push(MerchantRecord {
                            currency: Currency::parse(b"USD").unwrap(),
                            ..record
                        });
                        lines.push(line);
                    }
                    4 => {
                        records.push(record);
                        lines.push(line.clone());
                        lines.push(line);
                    }
                    _ => {
                        records.push(record);
                        lines.push(line);
                    }
                }
            }
            for (j, (of, cents, fate)) in refunds.iter().enumerate() {
                let id = format!("R{j}");
                let original = if *of < payments.len() {
                    format!("P{of}")
                } else {
                    format!("GONE{of}")
                };
                let line = Line::refund(&id, &original, *cents);
                let record = MerchantRecord::refund(
                    &id,
                    &original,
                    Amount::from_cents(*cents),
                    Currency::HKD,
                );
                match fate {
                    0 => records.push(record),
                    1 => lines.push(line),
                    2 => {
                        records.push(MerchantRecord {
                            amount: Amount::from_cents(cents + 5),
                            ..record
                        });
                        lines.push(line);
                    }
                    3 => {
                        let mut l = line;
                        l.original = String::new();
                        records.push(record);
                        lines.push(l);
                    }
                    _ => {
                        records.push(record);
                        lines.push(line);
                    }
                }
            }
            Scenario { lines, records }
        })
}

#[derive(Debug, Default, PartialEq)]
struct Expected {
    matched: u64,
    only_at_alipay: u64,
    only_in_merchant: u64,
    mismatches: u64,
    refunds_without_payment: u64,
    duplicates_at_alipay: u64,
}

/// The rules of the report, written out plainly over the whole lists.
fn reference(s: &Scenario) -> Expected {
    let mut e = Expected::default();
    let payments: HashMap<&str, &MerchantRecord> = s
        .records
        .iter()
        .filter(|r| r.kind == Kind::Payment)
        .map(|r| (r.out_trade_no.as_str(), r))
        .collect();
    let refunds: HashMap<&str, &MerchantRecord> = s
        .records
        .iter()
        .filter(|r| r.kind == Kind::Refund)
        .map(|r| (r.out_return_no.as_deref().unwrap(), r))
        .collect();
    let mut claimed: HashSet<(bool, &str)> = HashSet::new();
    for l in &s.lines {
        let amount = Amount::parse_exact(l.amount.as_bytes()).unwrap().abs();
        let refund = l.kind == "R";
        let record = if refund {
            refunds.get(l.id.as_str())
        } else {
            payments.get(l.id.as_str())
        };
        if refund {
            let known = !l.original.is_empty()
                && (payments.contains_key(l.original.as_str())
                    || record.is_some_and(|r| r.out_trade_no == l.original));
            if !known {
                e.refunds_without_payment += 1;
                if record.is_some() {
                    claimed.insert((true, l.id.as_str()));
                }
                continue;
            }
        }
        match record {
            None => e.only_at_alipay += 1,
            Some(_) if claimed.contains(&(refund, l.id.as_str())) => e.duplicates_at_alipay += 1,
            Some(r) => {
                claimed.insert((refund, l.id.as_str()));
                let same = r.amount == amount
                    && r.currency.as_str() == l.currency
                    && (!refund || r.out_trade_no == l.original);
                if same {
                    e.matched += 1
                } else {
                    e.mismatches += 1
                }
            }
        }
    }
    e.only_in_merchant = s
        .records
        .iter()
        .filter(|r| {
            let id = r.out_return_no.as_deref().unwrap_or(&r.out_trade_no);
            !claimed.contains(&(r.kind == Kind::Refund, id))
        })
        .count() as u64;
    e
}

/// Per-day totals read with the `csv` crate: (payments, refunds, fees, settlement) in cents.
fn reference_days(file: &str) -> BTreeMap<String, (i64, i64, i64, i64)> {
    let cents = |s: &str| -> i64 {
        let s = s.trim();
        let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
        let (i, f) = s.split_once('.').unwrap();
        let v = i.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap();
        if neg {
            -v
        } else {
            v
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file.as_bytes());
    let mut days: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
    for record in reader.records() {
        let r = record.unwrap();
        let shift = r.len() - 14; // the unnamed column after Fee
        let get = |i: usize| if i < 4 { &r[i] } else { &r[i + shift] };
        let day = days.entry(get(6)[..10].to_string()).or_default();
        let (amount, fee, settlement) = (
            cents(get(2)).abs(),
            cents(get(3)).abs(),
            cents(get(4)).abs(),
        );
        if get(10) == "P" {
            day.0 += amount;
            day.2 += fee;
            day.3 += settlement;
        } else {
            day.1 += amount;
            day.2 -= fee;
            day.3 -= settlement;
        }
    }
    days
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn reconciling_agrees_with_the_reference(s in scenario()) {
        let file = file_of(&s.lines);
        let report = reconcile_reader(file.as_bytes(), s.records.clone(), &[]).unwrap();
        let want = reference(&s);
        let got = Expected {
            matched: report.matched,
            only_at_alipay: report.counts.only_at_alipay,
            only_in_merchant: report.counts.only_in_merchant,
            mismatches: report.counts.mismatches,
            refunds_without_payment: report.counts.refunds_without_payment,
            duplicates_at_alipay: report.counts.duplicates_at_alipay,
        };
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(report.rows, s.lines.len() as u64);
        prop_assert_eq!(report.records, s.records.len() as u64);
        prop_assert_eq!(report.only_at_alipay.len() as u64, want.only_at_alipay);
        prop_assert_eq!(report.only_in_merchant.len() as u64, want.only_in_merchant);
        prop_assert_eq!(report.mismatches.len() as u64, want.mismatches);
        prop_assert_eq!(
            report.ok,
            want == Expected { matched: want.matched, ..Expected::default() }
        );
        // Every row is either matched or in exactly one finding.
        prop_assert_eq!(
            report.rows,
            report.matched + report.counts.only_at_alipay + report.counts.mismatches
                + report.counts.refunds_without_payment + report.counts.duplicates_at_alipay
        );

        let days = reference_days(&file);
        prop_assert_eq!(report.days.len(), days.len());
        for d in &report.days {
            let (payments, refunds, fees, settlement) = days[&d.date.to_string()];
            prop_assert_eq!(d.payments.cents(), payments);
            prop_assert_eq!(d.refunds.cents(), refunds);
            prop_assert_eq!(d.fees.cents(), fees);
            prop_assert_eq!(d.settlement.cents(), settlement);
            prop_assert!(d.adds_up);
            prop_assert_eq!(payments - refunds - fees, settlement);
        }
    }
}

#[test]
fn a_parser_left_unfinished_says_so() {
    let mut parser = TransactionParser::new();
    parser
        .feed(format!("{SAMPLE_HEADER}\n{SAMPLE_ROW}").as_bytes())
        .unwrap();
    // The last line has no line end yet: it is not a row until the file ends.
    assert!(parser.next_row().unwrap().is_none());
    assert!(!parser.is_finished());
    parser.end();
    assert!(parser.next_row().unwrap().is_some());
    assert!(parser.next_row().unwrap().is_none());
    assert!(parser.is_finished());
}
