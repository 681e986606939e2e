//! Helpers shared by the reconciliation tests: the documented sample of protocol §8.7, a
//! row builder that writes lines in the file's format (quirks optional), and whole-file
//! parsing in chunks.
#![allow(dead_code)]

use alipayhk_pay_core::reconcile::{TransactionParser, TransactionRow};
use alipayhk_pay_core::Result;

/// The documented header (14 names) and sample row (15 fields, padded ids) of §8.7.
pub const SAMPLE_HEADER: &str = "Partner_transaction_id,Transaction_id,Amount,Fee,Settlement,Currency,Payment_time,Settlement_time,Issue,Product,Type,Status,Remarks,Original_partner_transaction_ID";
pub const SAMPLE_ROW: &str = "6276895309058723 ,2017050221001003140213828085 ,0.10,0.00,,0.10,HKD,2017-05-02 14:41:14,2017-05-23 15:36:00,ALIPAYCN,Cross_wap,P,P,test1,";
pub const SAMPLE_BATCH: &str = "Settle_batch_no,Settle_date,Amount,Fee,Settlement,Currency\n50002017051900000000000000000000 ,2017-05-23 15:36:00,852.40 ,8.52 ,843.88 ,HKD\n";

/// One row as text, column by column, in the order of the header.
#[derive(Debug, Clone)]
pub struct Line {
    pub id: String,
    pub txid: String,
    pub amount: String,
    pub fee: String,
    pub unnamed: Option<String>,
    pub settlement: String,
    pub currency: String,
    pub payment_time: String,
    pub settlement_time: String,
    pub issue: String,
    pub product: String,
    pub kind: String,
    pub status: String,
    pub remarks: String,
    pub original: String,
}

impl Line {
    /// A payment of `cents` with a 1% fee (rounded down), settled.
    pub fn payment(id: &str, cents: i64) -> Line {
        let fee = cents / 100;
        Line {
            id: id.to_string(),
            txid: format!("2017050221{:018}", cents.unsigned_abs() + id.len() as u64),
            amount: money(cents),
            fee: money(fee),
            unnamed: Some(String::new()),
            settlement: money(cents - fee),
            currency: "HKD".to_string(),
            payment_time: "2017-05-02 14:41:14".to_string(),
            settlement_time: "2017-05-23 15:36:00".to_string(),
            issue: "ALIPAYHK".to_string(),
            product: "Cross_wap".to_string(),
            kind: "P".to_string(),
            status: "L".to_string(),
            remarks: String::new(),
            original: String::new(),
        }
    }

    /// A refund `id` of `cents` of payment `original`, with its fee returned.
    pub fn refund(id: &str, original: &str, cents: i64) -> Line {
        let mut line = Line::payment(id, cents);
        line.kind = "R".to_string();
        line.original = original.to_string();
        line
    }

    pub fn fields(&self) -> Vec<&str> {
        let mut f = vec![self.id.as_str(), &self.txid, &self.amount, &self.fee];
        if let Some(u) = &self.unnamed {
            f.push(u);
        }
        f.extend([
            self.settlement.as_str(),
            &self.currency,
            &self.payment_time,
            &self.settlement_time,
            &self.issue,
            &self.product,
            &self.kind,
            &self.status,
            &self.remarks,
            &self.original,
        ]);
        f
    }

    /// The line as a plain comma join (no quoting: callers keep commas out).
    pub fn text(&self) -> String {
        self.fields().join(",")
    }
}

pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// A file: the documented header and the lines, `\n` after each.
pub fn file_of(lines: &[Line]) -> String {
    let mut s = String::from(SAMPLE_HEADER);
    s.push('\n');
    for l in lines {
        s.push_str(&l.text());
        s.push('\n');
    }
    s
}

/// Parses a whole file fed in the given chunks.
pub fn parse_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<TransactionRow>> {
    let mut parser = TransactionParser::new();
    let mut rows = Vec::new();
    for chunk in chunks {
        rows.extend(parser.push(chunk)?);
    }
    rows.extend(parser.finish()?);
    assert!(parser.is_finished());
    assert_eq!(parser.rows(), rows.len() as u64);
    Ok(rows)
}

pub fn parse(text: &[u8]) -> Result<Vec<TransactionRow>> {
    parse_chunks([text])
}
