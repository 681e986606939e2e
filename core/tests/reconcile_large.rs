//! A transaction file of 1,000,000 rows, made chunk by chunk and never held whole, parsed and
//! reconciled against 1,000,000 merchant records in bounded memory: the parser never holds
//! more than a chunk and a row, and the report finds exactly the discrepancies planted.
//! The time is printed (`--nocapture`), not asserted; `examples/reconcile_speed.rs` times a
//! release build.

use crate::reconcile_support;

use alipayhk_pay_core::reconcile::{Amount, Currency, Kind, Reconciler, TransactionParser};
use reconcile_support::SAMPLE_HEADER;
use std::io::Write;
use std::time::Instant;

const ROWS: u64 = 1_000_000;
const CHUNK: usize = 64 * 1024;

fn cents_of(i: u64) -> i64 {
    (100 + (i * 7919) % 1_000_000) as i64
}

fn is_refund(i: u64) -> bool {
    i % 10 == 9
}

/// Row `i` in the documented format: padded ids, the unnamed column.
fn write_row(out: &mut Vec<u8>, i: u64) {
    let cents = cents_of(i);
    let fee = cents / 100;
    let day = 1 + i * 3 / ROWS; // three days
    let (kind, id, original) = if is_refund(i) {
        ('R', format!("RF{i:09}"), format!("OT{:09}", i - 1))
    } else {
        ('P', format!("OT{i:09}"), String::new())
    };
    // Planted: row 500,000 has one cent more at Alipay than in the books.
    let amount = if i == 500_000 { cents + 1 } else { cents };
    writeln!(
        out,
        "{id} ,2017050221{i:018} ,{},{},,{},HKD,2017-05-0{day} 12:00:00,2017-05-23 15:36:00,ALIPAYHK,Cross_wap,{kind},L,,{original}",
        Amount::from_cents(amount),
        Amount::from_cents(fee),
        Amount::from_cents(amount - fee),
    )
    .unwrap();
}

#[test]
fn a_million_rows_in_bounded_memory() {
    let hkd = Currency::parse(b"HKD").unwrap();
    let started = Instant::now();
    let mut reconciler = Reconciler::with_capacity(ROWS as usize, ROWS as usize / 10);
    for i in 0..ROWS {
        // Planted: row 123,456 is missing from the books; a record no row has is added.
        if i == 123_456 {
            continue;
        }
        let amount = Amount::from_cents(cents_of(i));
        if is_refund(i) {
            reconciler
                .add_refund(
                    &format!("RF{i:09}"),
                    &format!("OT{:09}", i - 1),
                    amount,
                    hkd,
                    None,
                )
                .unwrap();
        } else {
            reconciler
                .add_payment(&format!("OT{i:09}"), amount, hkd, None)
                .unwrap();
        }
    }
    reconciler
        .add_payment("NOT-AT-ALIPAY", Amount::from_cents(100), hkd, None)
        .unwrap();
    let loaded = started.elapsed();

    let mut parser = TransactionParser::new();
    let mut chunk = Vec::with_capacity(CHUNK + 256);
    chunk.extend_from_slice(SAMPLE_HEADER.as_bytes());
    chunk.extend_from_slice(b"\r\n");
    let mut most_buffered = 0;
    let mut bytes = 0usize;
    let mut next = 0u64;
    loop {
        while chunk.len() < CHUNK && next < ROWS {
            write_row(&mut chunk, next);
            next += 1;
        }
        // Cut mid-row: hand over exactly CHUNK bytes (or what is left), keep the rest.
        let take = chunk.len().min(CHUNK);
        parser.feed(&chunk[..take]).unwrap();
        bytes += take;
        chunk.drain(..take);
        reconciler.push_all(&mut parser).unwrap();
        most_buffered = most_buffered.max(parser.buffered_bytes());
        if chunk.is_empty() && next == ROWS {
            break;
        }
    }
    parser.end();
    while let Some(row) = parser.next_row().unwrap() {
        reconciler.push(&row);
    }
    assert!(parser.is_finished());
    let report = reconciler.finish(&[]).unwrap();
    let elapsed = started.elapsed();
    println!(
        "{ROWS} rows ({:.0} MiB) against {ROWS} records: {:.2} s (records {:.2} s; this is a debug build unless --release), parser buffer at most {most_buffered} bytes",
        bytes as f64 / (1 << 20) as f64,
        elapsed.as_secs_f64(),
        loaded.as_secs_f64()
    );

    assert_eq!(report.rows, ROWS);
    assert_eq!(report.records, ROWS);
    assert_eq!(report.matched, ROWS - 2);
    assert_eq!(report.counts.only_at_alipay, 1);
    assert_eq!(
        report.only_at_alipay[0].partner_transaction_id,
        "OT000123456"
    );
    assert_eq!(report.counts.mismatches, 1);
    assert_eq!(report.mismatches[0].partner_transaction_id, "OT000500000");
    assert_eq!(
        report.mismatches[0].alipay_amount.cents(),
        cents_of(500_000) + 1
    );
    assert_eq!(report.counts.only_in_merchant, 1);
    assert_eq!(report.only_in_merchant[0].out_trade_no, "NOT-AT-ALIPAY");
    assert_eq!(report.only_in_merchant[0].kind, Kind::Payment);
    assert_eq!(report.counts.refunds_without_payment, 0);
    assert_eq!(report.counts.duplicates_at_alipay, 0);
    assert!(!report.ok);

    // The days: every row counted once, and each day adds up.
    assert_eq!(report.days.len(), 3);
    let count: u64 = report
        .days
        .iter()
        .map(|d| d.payment_count + d.refund_count)
        .sum();
    assert_eq!(count, ROWS);
    assert!(report.days.iter().all(|d| d.adds_up));
    let payments: i64 = (0..ROWS)
        .filter(|&i| !is_refund(i))
        .map(cents_of)
        .sum::<i64>()
        + 1;
    let reported: i64 = report.days.iter().map(|d| d.payments.cents()).sum();
    assert_eq!(reported, payments);

    // Memory: one chunk and one row, whatever the size of the file.
    assert!(
        most_buffered <= 2 * CHUNK + 4096,
        "the parser held {most_buffered} bytes"
    );
}
