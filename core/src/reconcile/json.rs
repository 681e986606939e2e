//! Merchant records from JSON bytes, for a binding or a ledger file: one call for a whole
//! ledger instead of one conversion per record. Accepts a JSON array of records, or records
//! one after the other (JSON lines). Strings without escapes are borrowed, not copied.
//!
//! A record: `{"kind":"payment"|"refund","outTradeNo":"…","outReturnNo":"…" (refunds),
//! "amount":"12.30","currency":"HKD","time":"YYYY-MM-DD HH:MM:SS" (optional)}`; the
//! snake_case names `out_trade_no` / `out_return_no` are accepted too. The amount is a
//! string (zero to two decimals), never a JSON number: a float cannot hold every amount.
//! Other fields of a ledger line are ignored.

use super::report::{record_error, Reconciler, RecordText};
use super::transactions::Kind;
use crate::error::{Error, Result};
use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordIn<'a> {
    kind: Kind,
    #[serde(borrow, alias = "out_trade_no")]
    out_trade_no: Cow<'a, str>,
    #[serde(borrow, default, alias = "out_return_no")]
    out_return_no: Option<Cow<'a, str>>,
    #[serde(borrow)]
    amount: Cow<'a, str>,
    #[serde(borrow)]
    currency: Cow<'a, str>,
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
}

const SHAPE: &str = "a record is {\"kind\":\"payment\"|\"refund\",\"outTradeNo\":\"…\",\"outReturnNo\":\"…\" (refunds only),\"amount\":\"12.30\",\"currency\":\"HKD\",\"time\":\"YYYY-MM-DD HH:MM:SS\" (optional)}";

fn json_error(index: u64, e: serde_json::Error) -> Error {
    record_error(index, "", format!("{e}; {SHAPE}"))
}

impl Reconciler {
    /// Adds every record of a JSON array, or of JSON records one after the other (JSON lines),
    /// and answers how many were added. Errors are `ERR_ALIPAYHK_INVALID_ARGUMENT` with
    /// `field` `merchantRecords[i]` or `merchantRecords[i].amount` (and so on), `i` counting
    /// every record added to this reconciler; the records before the faulty one stay added.
    pub fn add_json_records(&mut self, json: &[u8]) -> Result<u64> {
        let before = self.records();
        let first = json.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            let mut de = serde_json::Deserializer::from_slice(json);
            let mut failure = None;
            let result = (&mut de).deserialize_seq(Adder {
                reconciler: self,
                failure: &mut failure,
            });
            if let Some(e) = failure {
                return Err(e);
            }
            result
                .and_then(|()| de.end())
                .map_err(|e| json_error(self.records(), e))?;
        } else {
            for item in serde_json::Deserializer::from_slice(json).into_iter::<RecordIn<'_>>() {
                let record = item.map_err(|e| json_error(self.records(), e))?;
                self.add_in(record)?;
            }
        }
        Ok(self.records() - before)
    }

    fn add_in(&mut self, r: RecordIn<'_>) -> Result<()> {
        self.add_text(RecordText {
            kind: r.kind,
            out_trade_no: &r.out_trade_no,
            out_return_no: r.out_return_no.as_deref(),
            amount: &r.amount,
            currency: &r.currency,
            time: r.time.as_deref(),
        })
    }
}

/// Adds the elements of a JSON array one by one as they are read.
struct Adder<'r> {
    reconciler: &'r mut Reconciler,
    failure: &'r mut Option<Error>,
}

impl<'de> Visitor<'de> for Adder<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of merchant records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some(record) = seq.next_element::<RecordIn<'de>>()? {
            if let Err(e) = self.reconciler.add_in(record) {
                *self.failure = Some(e);
                return Err(serde::de::Error::custom("record refused"));
            }
        }
        Ok(())
    }
}
