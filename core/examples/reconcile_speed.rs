//! How long the core takes to parse and reconcile a generated transaction file of
//! 1,000,000 rows (in the §8.7 format, quirks included) against 1,000,000 merchant records.
//! Times only, nothing asserted; the JavaScript comparison is `npm run bench`.
//!
//! `cargo run --release -p alipayhk-pay-core --no-default-features --example reconcile_speed [ROWS]`

use alipayhk_pay_core::reconcile::{Amount, Currency, Reconciler, TransactionParser};
use std::time::Instant;

const HEADER: &str = "Partner_transaction_id,Transaction_id,Amount,Fee,Settlement,Currency,Payment_time,Settlement_time,Issue,Product,Type,Status,Remarks,Original_partner_transaction_ID\n";

/// Row `i`: a payment (every 10th row a refund of the payment before it), padded ids and the
/// unnamed column, as in the documented sample.
fn write_row(out: &mut Vec<u8>, i: u64) {
    use std::io::Write;
    let cents = 100 + (i * 7919) % 1_000_000;
    let fee = cents / 100;
    let (kind, id, original) = if i % 10 == 9 {
        ('R', format!("RF{i:09}"), format!("OT{:09}", i - 1))
    } else {
        ('P', format!("OT{i:09}"), String::new())
    };
    let second = i % 86_400;
    writeln!(
        out,
        "{id} ,2017050221{i:018} ,{}.{:02},{}.{:02},,{}.{:02},HKD,2017-05-02 {:02}:{:02}:{:02},2017-05-23 15:36:00,ALIPAYHK,Cross_wap,{kind},L,,{original}",
        cents / 100,
        cents % 100,
        fee / 100,
        fee % 100,
        (cents - fee) / 100,
        (cents - fee) % 100,
        second / 3600,
        second / 60 % 60,
        second % 60,
    )
    .unwrap();
}

/// CPU seconds this process has used (user + system, 10 ms steps): on a busy machine the
/// wall-clock times above include waiting for a core, this does not.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 of the file (utime, stime) are 12 and 13 after the ")".
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);

    let mut file = Vec::with_capacity(rows as usize * 140);
    file.extend_from_slice(HEADER.as_bytes());
    for i in 0..rows {
        write_row(&mut file, i);
    }
    println!(
        "{rows} rows, {:.1} MiB of CSV (generated in memory; peak RSS so far {:.0} MiB)",
        file.len() as f64 / (1 << 20) as f64,
        peak_rss_mib().unwrap_or(f64::NAN)
    );

    // Parse only, fed in 64 KiB chunks as a stream would.
    let (t, c) = (Instant::now(), cpu_seconds());
    let mut parser = TransactionParser::new();
    let mut total = 0i64;
    for chunk in file.chunks(64 * 1024) {
        parser.feed(chunk).unwrap();
        while let Some(row) = parser.next_row().unwrap() {
            total += row.amount.cents();
        }
    }
    parser.end();
    while let Some(row) = parser.next_row().unwrap() {
        total += row.amount.cents();
    }
    let parse = t.elapsed();
    println!(
        "parse:             {:>8.1} ms, cpu {:>6.0} ms  ({:.0} ns/row, {:.0} MiB/s; sum {total})",
        parse.as_secs_f64() * 1e3,
        (cpu_seconds() - c) * 1e3,
        parse.as_nanos() as f64 / rows as f64,
        file.len() as f64 / (1 << 20) as f64 / parse.as_secs_f64()
    );

    // The merchant's records.
    let (t, c) = (Instant::now(), cpu_seconds());
    let hkd = Currency::parse(b"HKD").unwrap();
    let mut reconciler = Reconciler::with_capacity(rows as usize, rows as usize / 10);
    let mut id = String::new();
    let mut original = String::new();
    for i in 0..rows {
        use std::fmt::Write;
        let cents = 100 + (i * 7919) % 1_000_000;
        id.clear();
        if i % 10 == 9 {
            original.clear();
            write!(id, "RF{i:09}").unwrap();
            write!(original, "OT{:09}", i - 1).unwrap();
            reconciler
                .add_refund(&id, &original, Amount::from_cents(cents as i64), hkd, None)
                .unwrap();
        } else {
            write!(id, "OT{i:09}").unwrap();
            reconciler
                .add_payment(&id, Amount::from_cents(cents as i64), hkd, None)
                .unwrap();
        }
    }
    let load = t.elapsed();
    println!(
        "load records:      {:>8.1} ms, cpu {:>6.0} ms  ({:.0} ns/record)",
        load.as_secs_f64() * 1e3,
        (cpu_seconds() - c) * 1e3,
        load.as_nanos() as f64 / rows as f64
    );

    // The same records as JSON lines, in one call (the path for a binding or a ledger file).
    let mut json = Vec::with_capacity(rows as usize * 90);
    for i in 0..rows {
        use std::io::Write;
        let cents = 100 + (i * 7919) % 1_000_000;
        let amount = Amount::from_cents(cents as i64);
        if i % 10 == 9 {
            writeln!(json, r#"{{"kind":"refund","outTradeNo":"OT{:09}","outReturnNo":"RF{i:09}","amount":"{amount}","currency":"HKD"}}"#, i - 1).unwrap();
        } else {
            writeln!(json, r#"{{"kind":"payment","outTradeNo":"OT{i:09}","amount":"{amount}","currency":"HKD"}}"#).unwrap();
        }
    }
    let (t, c) = (Instant::now(), cpu_seconds());
    let mut from_json = Reconciler::with_capacity(rows as usize, rows as usize / 10);
    let added = from_json.add_json_records(&json).unwrap();
    let load_json = t.elapsed();
    println!(
        "load JSON lines:   {:>8.1} ms, cpu {:>6.0} ms  ({:.0} ns/record, {added} records, {:.1} MiB)",
        load_json.as_secs_f64() * 1e3,
        (cpu_seconds() - c) * 1e3,
        load_json.as_nanos() as f64 / rows as f64,
        json.len() as f64 / (1 << 20) as f64
    );
    drop(from_json);
    drop(json);

    // Parse and reconcile.
    let (t, c) = (Instant::now(), cpu_seconds());
    let mut parser = TransactionParser::new();
    for chunk in file.chunks(64 * 1024) {
        parser.feed(chunk).unwrap();
        while let Some(row) = parser.next_row().unwrap() {
            reconciler.push(&row);
        }
    }
    parser.end();
    while let Some(row) = parser.next_row().unwrap() {
        reconciler.push(&row);
    }
    let report = reconciler.finish(&[]).unwrap();
    let join = t.elapsed();
    println!(
        "parse + reconcile: {:>8.1} ms, cpu {:>6.0} ms  ({:.0} ns/row)",
        join.as_secs_f64() * 1e3,
        (cpu_seconds() - c) * 1e3,
        join.as_nanos() as f64 / rows as f64
    );
    println!(
        "total (records + parse + reconcile): {:.1} ms; matched {} of {} rows, ok {}; peak RSS {:.0} MiB",
        (load + join).as_secs_f64() * 1e3,
        report.matched,
        report.rows,
        report.ok,
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    assert_eq!(
        report.matched, rows,
        "the generated file and records should all match"
    );
}
