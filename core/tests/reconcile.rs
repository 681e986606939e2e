//! Protocol §8.7: the daily transaction file and the settlement batch file, parsed
//! tolerantly (the documented quirks) and strictly (what matters), in chunks cut anywhere;
//! and reconciliation against the merchant's records.

use crate::reconcile_support;

use alipayhk_pay_core::reconcile::{
    parse_settlement_batches, read_settlement_batches, reconcile, reconcile_reader, Amount,
    Currency, Issue, Kind, MerchantRecord, MismatchField, Reconciler, Report, SettlementBatch,
    Status, Sums, Timestamp, TransactionParser, TransactionReader, TransactionRow,
};
use alipayhk_pay_core::{Error, ErrorCode};
use reconcile_support::*;
use std::io::Read;

fn cents(c: i64) -> Amount {
    Amount::from_cents(c)
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text.as_bytes()).unwrap()
}

fn hkd() -> Currency {
    Currency::parse(b"HKD").unwrap()
}

// --- The documented sample -----------------------------------------------------------------

#[test]
fn the_documented_sample_row_parses_with_its_quirks() {
    let file = format!("{SAMPLE_HEADER}\n{SAMPLE_ROW}\n");
    let rows = parse(file.as_bytes()).unwrap();
    assert_eq!(
        rows,
        vec![TransactionRow {
            line: 2,
            partner_transaction_id: "6276895309058723".into(),
            transaction_id: "2017050221001003140213828085".into(),
            amount: cents(10),
            fee: cents(0),
            unnamed: String::new(),
            settlement: Some(cents(10)),
            currency: hkd(),
            payment_time: ts("2017-05-02 14:41:14"),
            settlement_time: Some(ts("2017-05-23 15:36:00")),
            issue: Issue::AlipayCn,
            product: "Cross_wap".into(),
            kind: Kind::Payment,
            status: Status::Done,
            remarks: "test1".into(),
            original_partner_transaction_id: None,
        }]
    );
}

#[test]
fn the_documented_settlement_batch_parses() {
    let batches = parse_settlement_batches(SAMPLE_BATCH.as_bytes()).unwrap();
    assert_eq!(
        batches,
        vec![SettlementBatch {
            line: 2,
            batch_no: "50002017051900000000000000000000".into(),
            settle_date: ts("2017-05-23 15:36:00"),
            amount: cents(85240),
            fee: cents(852),
            settlement: cents(84388),
            currency: hkd(),
        }]
    );
    // The same through a Read, one byte at a time.
    let batches_read = read_settlement_batches(Trickle::new(SAMPLE_BATCH.as_bytes(), 1)).unwrap();
    assert_eq!(batches_read, batches);
}

#[test]
fn rows_with_and_without_the_unnamed_column_and_a_header_that_names_it() {
    let mut with = Line::payment("A1", 1234);
    with.unnamed = Some("x".into());
    let mut without = Line::payment("A2", 500);
    without.unnamed = None;
    let rows = parse(file_of(&[with.clone(), without.clone()]).as_bytes()).unwrap();
    assert_eq!(rows[0].unnamed, "x");
    assert_eq!(rows[0].amount, cents(1234));
    assert_eq!(rows[0].settlement, Some(cents(1234 - 12)));
    assert_eq!(rows[1].unnamed, "");
    assert_eq!(rows[1].amount, cents(500));
    assert_eq!(rows[1].settlement, Some(cents(495)));

    // A header with 15 names (something after Fee): every row must then have 15 fields.
    let header15 = SAMPLE_HEADER.replace(",Fee,", ",Fee,Refund,");
    let ok = format!("{header15}\n{}\n", with.text());
    assert_eq!(parse(ok.as_bytes()).unwrap()[0].unnamed, "x");
    let bad = format!("{header15}\n{}\n", without.text());
    assert_file_error(parse(bad.as_bytes()), "line 2");
}

#[test]
fn empty_settlement_and_settlement_time_are_not_settled_yet() {
    let mut line = Line::payment("A1", 1000);
    line.settlement = String::new();
    line.settlement_time = "  ".into();
    let rows = parse(file_of(&[line]).as_bytes()).unwrap();
    assert_eq!(rows[0].settlement, None);
    assert_eq!(rows[0].settlement_time, None);
}

#[test]
fn bom_crlf_last_line_without_end_blank_lines_quotes_and_padding() {
    let mut quoted = Line::payment("Q1", 999);
    quoted.remarks = "\"a, \"\"quoted\"\"\nremark\"".into();
    let file = format!(
        "\u{feff}{SAMPLE_HEADER}\r\n\r\n  {}  \r\n{}\r\n   \r\n{}",
        Line::payment("A1", 100).text(),
        quoted.text(),
        Line::refund("R1", "A1", 50).text()
    );
    let rows = parse(file.as_bytes()).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].partner_transaction_id, "A1");
    assert_eq!(rows[0].line, 3);
    assert_eq!(rows[1].remarks, "a, \"quoted\"\nremark");
    assert_eq!(rows[1].line, 4);
    assert_eq!(rows[2].line, 7);
    assert_eq!(rows[2].kind, Kind::Refund);
    assert_eq!(
        rows[2].original_partner_transaction_id.as_deref(),
        Some("A1")
    );
}

#[test]
fn a_header_only_file_has_no_rows_and_an_empty_file_is_an_error() {
    assert_eq!(
        parse(format!("{SAMPLE_HEADER}\n").as_bytes()).unwrap(),
        vec![]
    );
    assert_eq!(parse(SAMPLE_HEADER.as_bytes()).unwrap(), vec![]);
    for empty in [&b""[..], b"\n\n", b"\xef\xbb\xbf", b"  \r\n"] {
        let err = parse(empty).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidFile);
        assert_eq!(err.field.as_deref(), Some("file"), "{empty:?}");
        assert!(err.message.contains("header"), "{}", err.message);
    }
}

#[test]
fn remarks_that_are_not_utf8_are_kept_with_replacement_characters() {
    let mut file = file_of(&[Line::payment("A1", 100)]).into_bytes();
    let at = file.len() - 2; // before ",\n" at the end: the remarks column
    file.splice(at..at, [0xff, b'x']);
    let rows = parse(&file).unwrap();
    assert_eq!(rows[0].remarks, "\u{fffd}x");
}

// --- Strict about what matters -----------------------------------------------------------

fn assert_file_error<T: std::fmt::Debug>(result: Result<T, Error>, field: &str) -> Error {
    let err = result.expect_err("a coded error");
    assert_eq!(err.code, ErrorCode::InvalidFile, "{err:?}");
    assert_eq!(err.code.as_str(), "ERR_ALIPAYHK_INVALID_FILE");
    assert_eq!(err.field.as_deref(), Some(field), "{err:?}");
    assert!(err.message.starts_with(field), "{}", err.message);
    err
}

#[test]
fn each_bad_value_is_an_error_naming_its_line_and_column() {
    type Edit = fn(&mut Line);
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("Amount", |l| l.amount = "1.5".into(), "two decimals"),
        ("Amount", |l| l.amount = "10".into(), "two decimals"),
        (
            "Amount",
            |l| l.amount = "\"1,000.00\"".into(),
            "two decimals",
        ),
        ("Amount", |l| l.amount = "1.00e2".into(), "two decimals"),
        ("Amount", |l| l.amount = String::new(), "required"),
        ("Amount", |l| l.amount = "NaN".into(), "two decimals"),
        (
            "Amount",
            |l| l.amount = "1000000000000.00".into(),
            "12 digits",
        ),
        ("Fee", |l| l.fee = "0.1".into(), "two decimals"),
        (
            "Settlement",
            |l| l.settlement = "0.100".into(),
            "two decimals",
        ),
        (
            "Currency",
            |l| l.currency = "hkd".into(),
            "three capital letters",
        ),
        (
            "Currency",
            |l| l.currency = "HK".into(),
            "three capital letters",
        ),
        (
            "Currency",
            |l| l.currency = "HKDD".into(),
            "three capital letters",
        ),
        (
            "Currency",
            |l| l.currency = String::new(),
            "three capital letters",
        ),
        (
            "Payment_time",
            |l| l.payment_time = "05/02/2017 14:41:14".into(),
            "YYYY-MM-DD HH:MM:SS",
        ),
        (
            "Payment_time",
            |l| l.payment_time = "2017-02-30 14:41:14".into(),
            "real date",
        ),
        (
            "Payment_time",
            |l| l.payment_time = "2017-05-02 24:00:00".into(),
            "YYYY-MM-DD",
        ),
        (
            "Payment_time",
            |l| l.payment_time = String::new(),
            "YYYY-MM-DD",
        ),
        (
            "Settlement_time",
            |l| l.settlement_time = "2017-05-23".into(),
            "YYYY-MM-DD",
        ),
        (
            "Issue",
            |l| l.issue = "ALIPAY".into(),
            "ALIPAYCN or ALIPAYHK",
        ),
        (
            "Issue",
            |l| l.issue = "alipayhk".into(),
            "ALIPAYCN or ALIPAYHK",
        ),
        ("Issue", |l| l.issue = String::new(), "ALIPAYCN or ALIPAYHK"),
        ("Type", |l| l.kind = "C".into(), "P (payment) or R (refund)"),
        (
            "Type",
            |l| l.kind = "PAYMENT".into(),
            "P (payment) or R (refund)",
        ),
        (
            "Status",
            |l| l.status = "S".into(),
            "P (done) or L (liquidated)",
        ),
        (
            "Status",
            |l| l.status = String::new(),
            "P (done) or L (liquidated)",
        ),
        ("Partner_transaction_id", |l| l.id = "  ".into(), "empty"),
        ("Transaction_id", |l| l.txid = String::new(), "empty"),
    ];
    for (column, edit, says) in cases {
        let mut lines: Vec<Line> = (0..6)
            .map(|i| Line::payment(&format!("A{i}"), 100 + i))
            .collect();
        edit(&mut lines[5]);
        let err = assert_file_error(
            parse(file_of(&lines).as_bytes()),
            &format!("line 7, column {column}"),
        );
        assert!(err.message.contains(says), "{column}: {}", err.message);
    }
}

#[test]
fn bytes_that_are_not_utf8_in_an_id_are_an_error() {
    let mut file = file_of(&[Line::payment("A1", 100)]).into_bytes();
    let at = file.iter().position(|&b| b == b'\n').unwrap() + 2;
    file[at] = 0xff;
    let err = assert_file_error(parse(&file), "line 2, column Partner_transaction_id");
    assert!(err.message.contains("UTF-8"));
}

#[test]
fn a_row_with_too_few_or_too_many_fields_is_an_error_naming_its_line() {
    let good = Line::payment("A1", 100);
    let mut sixteen = good.clone();
    sixteen.remarks = "a,b".into();
    for (line, why) in [
        (format!("{},", good.text()), "16 fields"),
        (sixteen.text(), "16 fields"),
        (good.fields()[..13].join(","), "13 fields"),
        ("A1".to_string(), "1 fields"),
    ] {
        let file = format!("{SAMPLE_HEADER}\n{}\n{line}\n", good.text());
        let err = assert_file_error(parse(file.as_bytes()), "line 3");
        assert!(err.message.contains(why), "{}", err.message);
    }
    // A line of commas is a row of empty fields, not a blank line to pass over.
    for commas in [",".repeat(13), ",".repeat(14)] {
        let file = format!("{SAMPLE_HEADER}\n{}\n{commas}\n", good.text());
        let err = assert_file_error(
            parse(file.as_bytes()),
            "line 3, column Partner_transaction_id",
        );
        assert!(err.message.contains("empty"), "{}", err.message);
    }
}

#[test]
fn a_wrong_header_is_an_error_naming_the_column() {
    let row = Line::payment("A1", 100).text();
    let renamed = SAMPLE_HEADER.replace("Amount", "Amt");
    let err = assert_file_error(
        parse(format!("{renamed}\n{row}\n").as_bytes()),
        "line 1, column 3",
    );
    assert!(err.message.contains("\"Amount\""), "{}", err.message);
    let swapped = SAMPLE_HEADER.replace("Type,Status", "Status,Type");
    assert_file_error(
        parse(format!("{swapped}\n{row}\n").as_bytes()),
        "line 1, column 11",
    );
    let short = SAMPLE_HEADER.replace(",Remarks", "");
    assert_file_error(parse(format!("{short}\n{row}\n").as_bytes()), "line 1");
    // A batch file given as a transaction file, and the other way round.
    assert_file_error(parse(SAMPLE_BATCH.as_bytes()), "line 1");
    assert_file_error(
        parse_settlement_batches(format!("{SAMPLE_HEADER}\n").as_bytes()),
        "line 1",
    );
    // Case and padding in the header are tolerated.
    let loose = format!(
        "{} \n{row}\n",
        SAMPLE_HEADER.to_lowercase().replace(',', " , ")
    );
    assert_eq!(parse(loose.as_bytes()).unwrap().len(), 1);
}

#[test]
fn bad_settlement_batch_values_are_errors_naming_line_and_column() {
    let header = "Settle_batch_no,Settle_date,Amount,Fee,Settlement,Currency";
    for (row, field) in [
        (
            "B1,2017-05-23 15:36:00,852.4,8.52,843.88,HKD",
            "line 3, column Amount",
        ),
        (
            "B1,2017-05-23 15:36:00,852.40,8.52,843.88,HK",
            "line 3, column Currency",
        ),
        (
            "B1,2017-05-23,852.40,8.52,843.88,HKD",
            "line 3, column Settle_date",
        ),
        (
            " ,2017-05-23 15:36:00,852.40,8.52,843.88,HKD",
            "line 3, column Settle_batch_no",
        ),
        ("B1,2017-05-23 15:36:00,852.40,8.52,843.88", "line 3"),
    ] {
        let file = format!("{header}\nB0,2017-05-23 15:36:00,1.00,0.01,0.99,HKD\n{row}\n");
        assert_file_error(parse_settlement_batches(file.as_bytes()), field);
    }
}

#[test]
fn the_first_error_is_final() {
    let mut bad = Line::payment("A2", 100);
    bad.currency = "H1D".into();
    let file = file_of(&[Line::payment("A1", 100), bad, Line::payment("A3", 100)]);
    let mut parser = TransactionParser::new();
    parser.feed(file.as_bytes()).unwrap();
    parser.end();
    assert_eq!(
        parser.next_row().unwrap().unwrap().partner_transaction_id,
        "A1"
    );
    let first = parser.next_row().unwrap_err();
    assert_eq!(first.field.as_deref(), Some("line 3, column Currency"));
    assert_eq!(parser.next_row().unwrap_err(), first);
    assert_eq!(parser.feed(b"more").unwrap_err(), first);
}

#[test]
fn a_record_longer_than_the_limit_is_an_error_not_unbounded_memory() {
    let mut line = Line::payment("A1", 100);
    line.remarks = "r".repeat(70 * 1024);
    let err = parse(file_of(&[line]).as_bytes()).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidFile);
    assert!(err.message.contains("longer than"), "{}", err.message);
}

// --- Chunks cut anywhere -------------------------------------------------------------------

fn small_file() -> String {
    let mut quoted = Line::refund("R1", "A1", 50);
    quoted.remarks = "\"with, comma\r\nand \"\"quotes\"\"\"".into();
    let mut no_unnamed = Line::payment("A2", 123456);
    no_unnamed.unnamed = None;
    format!(
        "\u{feff}{SAMPLE_HEADER}\r\n{SAMPLE_ROW}\r\n{}\r\n\r\n{}\r\n{}",
        Line::payment("A1", 100).text(),
        quoted.text(),
        no_unnamed.text()
    )
}

#[test]
fn a_file_split_at_every_byte_position_gives_the_same_rows() {
    let file = small_file();
    let bytes = file.as_bytes();
    let whole = parse(bytes).unwrap();
    assert_eq!(whole.len(), 4);
    assert_eq!(whole[2].remarks, "with, comma\r\nand \"quotes\"");
    for cut in 0..=bytes.len() {
        assert_eq!(
            parse_chunks([&bytes[..cut], &bytes[cut..]]).unwrap(),
            whole,
            "cut at {cut}"
        );
    }
    for a in (0..bytes.len()).step_by(7) {
        for b in a..=bytes.len() {
            let chunks = [&bytes[..a], &bytes[a..b], &bytes[b..]];
            assert_eq!(parse_chunks(chunks).unwrap(), whole, "cuts at {a}, {b}");
        }
    }
    assert_eq!(parse_chunks(bytes.chunks(1)).unwrap(), whole);
    assert_eq!(parse_chunks(bytes.chunks(3)).unwrap(), whole);
    // The same with \n line ends and a last line end.
    let lf = format!("{}\n", file.replace("\r\n", "\n"));
    let lf_rows = parse(lf.as_bytes()).unwrap();
    assert_eq!(lf_rows.len(), 4);
    for cut in 0..=lf.len() {
        assert_eq!(
            parse_chunks([&lf.as_bytes()[..cut], &lf.as_bytes()[cut..]]).unwrap(),
            lf_rows
        );
    }
}

#[test]
fn an_error_is_the_same_wherever_the_file_is_split() {
    let mut bad = Line::payment("A9", 100);
    bad.status = "X".into();
    let file = format!("{}\r\n{}\n", small_file(), bad.text());
    let bytes = file.as_bytes();
    let whole = parse(bytes).unwrap_err();
    assert_eq!(whole.field.as_deref(), Some("line 8, column Status"));
    for cut in 0..=bytes.len() {
        assert_eq!(
            parse_chunks([&bytes[..cut], &bytes[cut..]]).unwrap_err(),
            whole
        );
    }
}

/// A `Read` that hands out at most `n` bytes per call, and is interrupted now and then.
struct Trickle<'a> {
    data: &'a [u8],
    n: usize,
    calls: usize,
}

impl<'a> Trickle<'a> {
    fn new(data: &'a [u8], n: usize) -> Self {
        Trickle { data, n, calls: 0 }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(5) {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let n = self.n.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn the_reader_over_read_gives_the_same_rows() {
    let file = small_file();
    let whole = parse(file.as_bytes()).unwrap();
    for n in [1, 2, 5, 64, 100_000] {
        let rows: Vec<TransactionRow> = TransactionReader::new(Trickle::new(file.as_bytes(), n))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, whole, "{n} bytes a read");
    }
    let mut reader = TransactionReader::new(file.as_bytes());
    let mut ids = Vec::new();
    while let Some(row) = reader.next_row().unwrap() {
        ids.push(row.partner_transaction_id.to_string());
    }
    assert_eq!(ids, ["6276895309058723", "A1", "R1", "A2"]);
    assert_eq!(reader.rows(), 4);
}

#[test]
fn an_io_error_is_a_coded_error() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let mut rows = TransactionReader::new(Broken);
    let err = rows.next().unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidFile);
    assert!(err.message.contains("disk on fire"));
    assert!(rows.next().is_none());
}

// --- Reconciling ---------------------------------------------------------------------------

fn payment(id: &str, c: i64) -> MerchantRecord {
    MerchantRecord::payment(id, cents(c), hkd())
}

fn refund(id: &str, of: &str, c: i64) -> MerchantRecord {
    MerchantRecord::refund(id, of, cents(c), hkd())
}

fn report_of(lines: &[Line], records: Vec<MerchantRecord>, batches: &[SettlementBatch]) -> Report {
    let file = file_of(lines);
    let report = reconcile_reader(file.as_bytes(), records.clone(), batches).unwrap();
    // The same through parsed rows.
    let rows = parse(file.as_bytes()).unwrap();
    assert_eq!(reconcile(&rows, records, batches).unwrap(), report);
    report
}

#[test]
fn everything_matched() {
    let lines = [
        Line::payment("A1", 1000),
        Line::payment("A2", 2050),
        Line::refund("R1", "A1", 300),
    ];
    let report = report_of(
        &lines,
        vec![
            payment("A1", 1000),
            payment("A2", 2050),
            refund("R1", "A1", 300),
        ],
        &[],
    );
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.rows, 3);
    assert_eq!(report.records, 3);
    assert_eq!(report.matched, 3);
    assert_eq!(report.counts, Default::default());
    assert!(!report.truncated);
    assert_eq!(report.days.len(), 1);
    let day = &report.days[0];
    assert_eq!(day.date.to_string(), "2017-05-02");
    assert_eq!((day.payment_count, day.payments), (2, cents(3050)));
    assert_eq!((day.refund_count, day.refunds), (1, cents(300)));
    assert_eq!(day.fees, cents(10 + 20 - 3));
    assert_eq!(day.settlement, cents(990 + 2030 - 297));
    assert!(day.adds_up);
    assert_eq!(
        day.payments.cents() - day.refunds.cents() - day.fees.cents(),
        day.settlement.cents()
    );
}

#[test]
fn missing_on_each_side() {
    let report = report_of(
        &[Line::payment("A1", 1000), Line::payment("X9", 700)],
        vec![
            payment("A1", 1000),
            payment("M1", 500),
            refund("MR1", "A1", 100),
        ],
        &[],
    );
    assert!(!report.ok);
    assert_eq!(report.matched, 1);
    assert_eq!(report.counts.only_at_alipay, 1);
    assert_eq!(report.only_at_alipay[0].partner_transaction_id, "X9");
    assert_eq!(report.only_at_alipay[0].line, 3);
    assert_eq!(report.only_at_alipay[0].amount, cents(700));
    assert_eq!(report.counts.only_in_merchant, 2);
    let ids: Vec<_> = report
        .only_in_merchant
        .iter()
        .map(|e| (e.kind, e.out_trade_no.as_str(), e.out_return_no.as_deref()))
        .collect();
    assert_eq!(
        ids,
        [
            (Kind::Payment, "M1", None),
            (Kind::Refund, "A1", Some("MR1"))
        ]
    );
}

#[test]
fn amount_and_currency_mismatches() {
    let mut usd = Line::payment("A2", 2000);
    usd.currency = "USD".into();
    let report = report_of(
        &[
            Line::payment("A1", 1001),
            usd,
            Line::refund("R1", "A1", 300),
        ],
        vec![
            payment("A1", 1000),
            payment("A2", 2000),
            refund("R1", "A1", 301),
        ],
        &[],
    );
    assert!(!report.ok);
    assert_eq!(report.matched, 0);
    assert_eq!(report.counts.mismatches, 3);
    let m = &report.mismatches;
    assert_eq!(m[0].partner_transaction_id, "A1");
    assert_eq!(m[0].fields, [MismatchField::Amount]);
    assert_eq!(
        (m[0].alipay_amount, m[0].merchant_amount),
        (cents(1001), cents(1000))
    );
    assert_eq!(m[1].fields, [MismatchField::Currency]);
    assert_eq!(m[1].alipay_currency.as_str(), "USD");
    assert_eq!(m[1].merchant_currency.as_str(), "HKD");
    assert_eq!(m[2].kind, Kind::Refund);
    assert_eq!(m[2].fields, [MismatchField::Amount]);
    assert_eq!(report.counts.only_in_merchant, 0);
}

#[test]
fn refunds_without_their_payment() {
    let report = report_of(
        &[
            Line::payment("A1", 1000),
            Line::refund("R1", "", 100),     // no original at all
            Line::refund("R2", "NOPE", 100), // an original nobody knows
            Line::refund("R3", "OLD", 100),  // an older payment, known through the refund record
            Line::refund("R4", "NOPE", 100), // the books say R4 refunds A1
        ],
        vec![
            payment("A1", 1000),
            refund("R3", "OLD", 100),
            refund("R4", "A1", 100),
        ],
        &[],
    );
    assert_eq!(report.counts.refunds_without_payment, 3);
    let ids: Vec<_> = report
        .refunds_without_payment
        .iter()
        .map(|e| e.partner_transaction_id.as_str())
        .collect();
    assert_eq!(ids, ["R1", "R2", "R4"]);
    assert_eq!(report.matched, 2);
    // R4's record was claimed by its row (reported once, not also as only in the books).
    assert_eq!(report.counts.only_in_merchant, 0);
    assert!(!report.ok);
}

#[test]
fn a_refund_of_another_order_and_a_refund_unknown_to_the_books() {
    let report = report_of(
        &[
            Line::payment("A1", 1000),
            Line::payment("A2", 1000),
            Line::refund("R1", "A2", 100),
            Line::refund("R2", "A1", 100),
        ],
        vec![
            payment("A1", 1000),
            payment("A2", 1000),
            refund("R1", "A1", 100),
        ],
        &[],
    );
    assert_eq!(report.counts.mismatches, 1);
    let m = &report.mismatches[0];
    assert_eq!(m.fields, [MismatchField::OutTradeNo]);
    assert_eq!(m.alipay_out_trade_no.as_deref(), Some("A2"));
    assert_eq!(m.merchant_out_trade_no.as_deref(), Some("A1"));
    assert_eq!(report.counts.only_at_alipay, 1);
    assert_eq!(report.only_at_alipay[0].partner_transaction_id, "R2");
}

#[test]
fn a_row_given_twice_is_a_duplicate() {
    let report = report_of(
        &[Line::payment("A1", 1000), Line::payment("A1", 1000)],
        vec![payment("A1", 1000)],
        &[],
    );
    assert_eq!(report.matched, 1);
    assert_eq!(report.counts.duplicates_at_alipay, 1);
    assert_eq!(report.duplicates_at_alipay[0].line, 3);
    assert!(!report.ok);
}

#[test]
fn refunds_written_negative_count_by_magnitude() {
    let mut neg = Line::refund("R1", "A1", 300);
    neg.amount = "-3.00".into();
    neg.fee = "-0.03".into();
    neg.settlement = "-2.97".into();
    let report = report_of(
        &[Line::payment("A1", 1000), neg],
        vec![payment("A1", 1000), refund("R1", "A1", 300)],
        &[],
    );
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.days[0].refunds, cents(300));
    assert_eq!(report.days[0].settlement, cents(990 - 297));
}

#[test]
fn a_day_that_does_not_add_up_and_unsettled_rows() {
    let mut off = Line::payment("A2", 1000);
    off.settlement = "9.91".into(); // amount 10.00 - fee 0.10 is 9.90
    let mut later = Line::payment("A3", 500);
    later.payment_time = "2017-05-03 00:00:01".into();
    later.settlement = String::new();
    later.settlement_time = String::new();
    let report = report_of(
        &[Line::payment("A1", 1000), off, later],
        vec![payment("A1", 1000), payment("A2", 1000), payment("A3", 500)],
        &[],
    );
    assert_eq!(report.matched, 3);
    assert_eq!(report.days.len(), 2);
    assert!(!report.days[0].adds_up);
    assert_eq!(report.days[1].date.to_string(), "2017-05-03");
    assert_eq!(report.days[1].unsettled_count, 1);
    assert!(
        report.days[1].adds_up,
        "no settled row: nothing to disagree"
    );
    assert!(!report.ok);
}

/// Rows whose totals are the documented batch: 852.40 amount, 8.52 fee, 843.88 settled.
fn rows_of_the_documented_batch() -> Vec<Line> {
    let mut lines = Vec::new();
    // 8 payments of 100.00 (fee 1.00), one of 62.40 (fee 0.62), a refund of 10.00 (fee 0.10
    // returned): 862.40 - 10.00 = 852.40; 8.62 - 0.10 = 8.52; 843.88.
    for i in 0..8 {
        lines.push(Line::payment(&format!("A{i}"), 10_000));
    }
    lines.push(Line::payment("A8", 6240));
    lines.push(Line::refund("R0", "A0", 1000));
    lines
}

fn records_of(lines: &[Line]) -> Vec<MerchantRecord> {
    lines
        .iter()
        .map(|l| {
            let c = Amount::parse_exact(l.amount.as_bytes()).unwrap().cents();
            if l.kind == "P" {
                payment(&l.id, c)
            } else {
                refund(&l.id, &l.original, c)
            }
        })
        .collect()
}

#[test]
fn the_totals_equal_the_documented_settlement_batch() {
    let lines = rows_of_the_documented_batch();
    let batches = parse_settlement_batches(SAMPLE_BATCH.as_bytes()).unwrap();
    let report = report_of(&lines, records_of(&lines), &batches);
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.settlements.len(), 1);
    let check = &report.settlements[0];
    assert!(check.matches);
    assert_eq!(check.batch_nos, ["50002017051900000000000000000000"]);
    assert_eq!(check.row_count, 10);
    let batch = Sums {
        amount: batches[0].amount,
        fee: batches[0].fee,
        settlement: batches[0].settlement,
    };
    assert_eq!(check.file, batch);
    assert_eq!(check.rows, batch);
    // The per-day totals say the same.
    let day = &report.days[0];
    assert_eq!(day.payments.cents() - day.refunds.cents(), 85240);
    assert_eq!(day.fees, cents(852));
    assert_eq!(day.settlement, cents(84388));
    assert!(day.adds_up);
    assert!(report.settled_without_batch.is_empty());
}

#[test]
fn a_batch_that_does_not_match_its_rows_is_reported() {
    let mut lines = rows_of_the_documented_batch();
    lines[3].fee = "1.01".into(); // one cent more fee, one cent less settled
    lines[3].settlement = "98.99".into();
    let batches = parse_settlement_batches(SAMPLE_BATCH.as_bytes()).unwrap();
    let report = report_of(&lines, records_of(&lines), &batches);
    assert_eq!(report.matched, 10);
    assert!(report.days[0].adds_up);
    let check = &report.settlements[0];
    assert!(!check.matches);
    assert_eq!(check.rows.fee, cents(853));
    assert_eq!(check.rows.settlement, cents(84387));
    assert_eq!(check.file.fee, cents(852));
    assert!(!report.ok);

    // A batch with no rows at all, and rows settled on a day with no batch.
    let mut other = batches[0].clone();
    other.settle_date = ts("2017-05-24 15:36:00");
    let mut lines = rows_of_the_documented_batch();
    lines[0].settlement_time = "2017-05-25 10:00:00".into();
    let report = report_of(&lines, records_of(&lines), &[batches[0].clone(), other]);
    assert_eq!(report.settlements.len(), 2);
    assert!(!report.settlements[0].matches, "one row settled elsewhere");
    assert_eq!(report.settlements[0].row_count, 9);
    assert!(!report.settlements[1].matches);
    assert_eq!(report.settlements[1].row_count, 0);
    assert_eq!(report.settled_without_batch.len(), 1);
    assert_eq!(
        report.settled_without_batch[0].date.to_string(),
        "2017-05-25"
    );
    assert_eq!(report.settled_without_batch[0].rows.amount, cents(10_000));
}

#[test]
fn two_batches_on_one_day_are_summed() {
    let lines = rows_of_the_documented_batch();
    let mut a = parse_settlement_batches(SAMPLE_BATCH.as_bytes())
        .unwrap()
        .remove(0);
    let mut b = a.clone();
    b.batch_no = "B2".into();
    a.amount = cents(80000);
    a.fee = cents(800);
    a.settlement = cents(79200);
    b.amount = cents(5240);
    b.fee = cents(52);
    b.settlement = cents(5188);
    let report = report_of(&lines, records_of(&lines), &[a, b]);
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.settlements[0].batch_nos.len(), 2);
}

#[test]
fn lists_are_capped_and_counts_stay_exact() {
    let lines: Vec<Line> = (0..50)
        .map(|i| Line::payment(&format!("X{i}"), 100))
        .collect();
    let file = file_of(&lines);
    let mut r = Reconciler::new();
    r.set_list_limit(10);
    for i in 0..30 {
        r.add(payment(&format!("M{i}"), 100)).unwrap();
    }
    let mut reader = TransactionReader::new(file.as_bytes());
    while let Some(row) = reader.next_row().unwrap() {
        r.push(&row);
    }
    let report = r.finish(&[]).unwrap();
    assert_eq!(report.counts.only_at_alipay, 50);
    assert_eq!(report.only_at_alipay.len(), 10);
    assert_eq!(report.counts.only_in_merchant, 30);
    assert_eq!(report.only_in_merchant.len(), 10);
    assert!(report.truncated);
}

#[test]
fn bad_merchant_records_are_refused() {
    let mut r = Reconciler::new();
    r.add(payment("A1", 100)).unwrap();
    let cases: Vec<(MerchantRecord, &str)> = vec![
        (payment("A1", 100), "merchantRecords[1].outTradeNo"),
        (payment("", 100), "merchantRecords[1].outTradeNo"),
        (payment("A2", -1), "merchantRecords[1].amount"),
        (
            MerchantRecord {
                out_return_no: None,
                ..refund("x", "A1", 100)
            },
            "merchantRecords[1].outReturnNo",
        ),
        (refund("R1", "", 100), "merchantRecords[1].outTradeNo"),
        (
            MerchantRecord {
                out_return_no: Some("R9".into()),
                ..payment("A3", 100)
            },
            "merchantRecords[1].outReturnNo",
        ),
    ];
    for (record, field) in cases {
        let err = r.add(record).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert_eq!(err.field.as_deref(), Some(field), "{err:?}");
    }
    r.add(refund("R1", "A1", 100)).unwrap();
    let err = r.add(refund("R1", "A1", 100)).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("merchantRecords[2].outReturnNo"));

    // Records come before rows.
    let file = file_of(&[Line::payment("A1", 100)]);
    let mut reader = TransactionReader::new(file.as_bytes());
    r.push(&reader.next_row().unwrap().unwrap());
    let err = r.add(payment("A9", 100)).unwrap_err();
    assert!(err.message.contains("before the first"), "{}", err.message);
}

#[test]
fn the_report_serialises_for_javascript() {
    let lines = rows_of_the_documented_batch();
    let batches = parse_settlement_batches(SAMPLE_BATCH.as_bytes()).unwrap();
    let mut records = records_of(&lines);
    records[1].amount = cents(1);
    let report = report_of(&lines, records, &batches);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["counts"]["mismatches"], 1);
    assert_eq!(json["mismatches"][0]["partnerTransactionId"], "A1");
    assert_eq!(json["mismatches"][0]["alipayAmount"], "100.00");
    assert_eq!(json["mismatches"][0]["merchantAmount"], "0.01");
    assert_eq!(json["mismatches"][0]["fields"][0], "amount");
    assert_eq!(json["mismatches"][0]["kind"], "payment");
    assert_eq!(json["days"][0]["date"], "2017-05-02");
    assert_eq!(json["days"][0]["addsUp"], true);
    assert_eq!(json["settlements"][0]["file"]["settlement"], "843.88");
    // And back.
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);

    // Merchant records from JSON, as JavaScript would hand them over.
    let records: Vec<MerchantRecord> = serde_json::from_str(
        r#"[{"kind":"payment","outTradeNo":"A1","amount":"10","currency":"HKD","time":"2017-05-02 14:00:00"},
            {"kind":"refund","outTradeNo":"A1","outReturnNo":"R1","amount":"0.5","currency":"HKD"}]"#,
    )
    .unwrap();
    assert_eq!(records[0].amount, cents(1000));
    assert_eq!(records[1].amount, cents(50));
    assert_eq!(records[1].out_return_no.as_deref(), Some("R1"));
    for bad in [
        r#"{"kind":"payment","outTradeNo":"A1","amount":"10.001","currency":"HKD"}"#,
        r#"{"kind":"payment","outTradeNo":"A1","amount":10,"currency":"HKD"}"#,
        r#"{"kind":"payment","outTradeNo":"A1","amount":"10","currency":"hkd"}"#,
        r#"{"kind":"pay","outTradeNo":"A1","amount":"10","currency":"HKD"}"#,
        r#"{"kind":"payment","outTradeNo":"A1","amount":"10","currency":"HKD","time":"2017-02-30 00:00:00"}"#,
    ] {
        assert!(
            serde_json::from_str::<MerchantRecord>(bad).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn merchant_records_from_json_an_array_or_lines() {
    let lines = [
        Line::payment("A1", 1000),
        Line::payment("A\"2", 2050),
        Line::refund("R1", "A1", 300),
    ];
    // The id with a quote comes escaped in JSON; other fields of a ledger line are ignored.
    let array = br#" [ {"kind":"payment","outTradeNo":"A1","amount":"10","currency":"HKD","status":"paid"},
        {"kind":"payment","out_trade_no":"A\"2","amount":"20.5","currency":"HKD","time":"2017-05-02 14:41:14"},
        {"kind":"refund","outTradeNo":"A1","outReturnNo":"R1","amount":"3.00","currency":"HKD"} ] "#;
    let json_lines = br#"{"kind":"payment","outTradeNo":"A1","amount":"10","currency":"HKD"}
{"kind":"payment","outTradeNo":"A\"2","amount":"20.50","currency":"HKD"}
{"kind":"refund","outTradeNo":"A1","out_return_no":"R1","amount":"3","currency":"HKD"}
"#;
    let file = file_of(&lines);
    for json in [&array[..], json_lines] {
        let mut r = Reconciler::new();
        assert_eq!(r.add_json_records(json).unwrap(), 3);
        let mut reader = TransactionReader::new(file.as_bytes());
        while let Some(row) = reader.next_row().unwrap() {
            r.push(&row);
        }
        let report = r.finish(&[]).unwrap();
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.matched, 3);
    }

    let refused: [(&[u8], &str, &str); 8] = [
        (br#"[{"kind":"payment","outTradeNo":"A1","amount":10,"currency":"HKD"}]"#, "merchantRecords[0]", "amount"),
        (br#"{"kind":"payment","outTradeNo":"A1","amount":"10.001","currency":"HKD"}"#, "merchantRecords[0].amount", "two decimals"),
        (br#"{"kind":"payment","outTradeNo":"A1","amount":"1","currency":"hkd"}"#, "merchantRecords[0].currency", "capital"),
        (br#"{"kind":"payment","outTradeNo":"A1","amount":"1","currency":"HKD","time":"2017-02-30 00:00:00"}"#, "merchantRecords[0].time", "YYYY"),
        (br#"{"kind":"paid","outTradeNo":"A1","amount":"1","currency":"HKD"}"#, "merchantRecords[0]", "payment"),
        (br#"{"kind":"refund","outTradeNo":"A1","amount":"1","currency":"HKD"}"#, "merchantRecords[0].outReturnNo", "empty"),
        (br#"{"kind":"payment","outTradeNo":"A1","amount":"1","currency":"HKD"} {"kind":"payment","outTradeNo":"A1","amount":"1","currency":"HKD"}"#, "merchantRecords[1].outTradeNo", "twice"),
        (br#"[{"kind":"payment","outTradeNo":"A1","amount":"1","currency":"HKD"}, oops]"#, "merchantRecords[1]", "expected"),
    ];
    for (json, field, says) in refused {
        let err = Reconciler::new().add_json_records(json).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArgument, "{err:?}");
        assert_eq!(err.field.as_deref(), Some(field), "{err:?}");
        assert!(err.message.contains(says), "{}", err.message);
    }
    assert_eq!(Reconciler::new().add_json_records(b"[]").unwrap(), 0);
    assert_eq!(Reconciler::new().add_json_records(b"  \n").unwrap(), 0);
}
