//! The merchant's records, and the index a reconciliation looks them up in: the records in
//! one vector (in the order given), their ids in one buffer, and a hash table (hashbrown) of
//! 4-byte positions in the vector. A million records are a few allocations, not a million;
//! and when rows come in about the order the records were given (a ledger and a daily file
//! both run in time order), a look-up misses the cache only in the small table.
//!
//! Hashing is FxHash (rustc-hash): fast on short ids. The ids are the merchant's own
//! `out_trade_no` / `out_return_no`, not chosen by a third party, and rows only look
//! them up, so a flood of colliding keys is not something an outsider can arrange.

use super::amount::Amount;
use super::transactions::Kind;
use super::values::{Currency, Timestamp};
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use std::hash::BuildHasher;

/// A payment or a refund as the merchant's books hold it. Deserialised from camelCase
/// (`{ kind: "payment", outTradeNo, amount: "12.30", currency: "HKD", time? }`, a refund
/// also with `outReturnNo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantRecord {
    pub kind: Kind,
    /// The paid order; for a refund, the order it refunds.
    pub out_trade_no: String,
    /// The refund's own id (required for a refund, absent for a payment).
    #[serde(default)]
    pub out_return_no: Option<String>,
    /// Positive; zero, one or two decimals (`"10"`, `"10.5"`, `"10.50"`).
    pub amount: Amount,
    pub currency: Currency,
    #[serde(default)]
    pub time: Option<Timestamp>,
}

impl MerchantRecord {
    pub fn payment(out_trade_no: &str, amount: Amount, currency: Currency) -> Self {
        MerchantRecord {
            kind: Kind::Payment,
            out_trade_no: out_trade_no.to_owned(),
            out_return_no: None,
            amount,
            currency,
            time: None,
        }
    }

    pub fn refund(
        out_return_no: &str,
        out_trade_no: &str,
        amount: Amount,
        currency: Currency,
    ) -> Self {
        MerchantRecord {
            kind: Kind::Refund,
            out_trade_no: out_trade_no.to_owned(),
            out_return_no: Some(out_return_no.to_owned()),
            amount,
            currency,
            time: None,
        }
    }
}

/// Where an id sits in the buffer of ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }
}

/// What the merchant's books say of one id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected {
    id: Span,
    /// For a refund: the order it refunds.
    out_trade_no: Option<Span>,
    pub amount: Amount,
    pub time: Option<Timestamp>,
    pub currency: Currency,
    /// A row has claimed this record.
    pub seen: bool,
}

/// Why an id could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddError {
    Duplicate,
    /// The buffer of ids would pass 4 GiB.
    Full,
}

/// Records by id.
pub(crate) struct RecordIndex {
    /// Positions in `records`.
    table: HashTable<u32>,
    records: Vec<Expected>,
    ids: String,
    hasher: FxBuildHasher,
}

impl RecordIndex {
    pub fn with_capacity(records: usize) -> Self {
        RecordIndex {
            table: HashTable::with_capacity(records),
            records: Vec::with_capacity(records),
            ids: String::with_capacity(records * 16),
            hasher: FxBuildHasher,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    fn push_id(&mut self, id: &str) -> Result<Span, AddError> {
        let start = u32::try_from(self.ids.len()).map_err(|_| AddError::Full)?;
        let len = u32::try_from(id.len()).map_err(|_| AddError::Full)?;
        start.checked_add(len).ok_or(AddError::Full)?;
        self.ids.push_str(id);
        Ok(Span { start, len })
    }

    pub fn insert(
        &mut self,
        id: &str,
        out_trade_no: Option<&str>,
        amount: Amount,
        currency: Currency,
        time: Option<Timestamp>,
    ) -> Result<(), AddError> {
        let hash = self.hasher.hash_one(id.as_bytes());
        if self.find(hash, id).is_some() {
            return Err(AddError::Duplicate);
        }
        let position = u32::try_from(self.records.len()).map_err(|_| AddError::Full)?;
        let before = self.ids.len();
        let id_span = self.push_id(id)?;
        let out_trade_no = match out_trade_no.map(|o| self.push_id(o)).transpose() {
            Ok(span) => span,
            Err(e) => {
                self.ids.truncate(before);
                return Err(e);
            }
        };
        let expected = Expected {
            id: id_span,
            out_trade_no,
            amount,
            time,
            currency,
            seen: false,
        };
        self.records.push(expected);
        let RecordIndex {
            table,
            records,
            ids,
            hasher,
        } = self;
        table.insert_unique(hash, position, |&p| {
            hasher.hash_one(ids[records[p as usize].id.range()].as_bytes())
        });
        Ok(())
    }

    fn find(&self, hash: u64, id: &str) -> Option<u32> {
        self.table
            .find(hash, |&p| {
                &self.ids[self.records[p as usize].id.range()] == id
            })
            .copied()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.find(self.hasher.hash_one(id.as_bytes()), id).is_some()
    }

    /// The record of `id`, and for a refund the order it refunds.
    #[inline]
    pub fn get_mut(&mut self, id: &str) -> Option<(&mut Expected, Option<&str>)> {
        let hash = self.hasher.hash_one(id.as_bytes());
        let position = self.find(hash, id)?;
        let e = &mut self.records[position as usize];
        let original = e.out_trade_no.map(|s| &self.ids[s.range()]);
        Some((e, original))
    }

    /// The records no row claimed, as (id, refunded order, record).
    pub fn unseen(&self) -> impl Iterator<Item = (&str, Option<&str>, &Expected)> {
        self.records.iter().filter(|e| !e.seen).map(|e| {
            (
                &self.ids[e.id.range()],
                e.out_trade_no.map(|s| &self.ids[s.range()]),
                e,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index() {
        let hkd = Currency::HKD;
        let mut index = RecordIndex::with_capacity(0);
        for i in 0..1000 {
            let id = format!("id{i}");
            let original = (i % 2 == 0).then(|| format!("of{i}"));
            index
                .insert(&id, original.as_deref(), Amount::from_cents(i), hkd, None)
                .unwrap();
        }
        assert_eq!(index.len(), 1000);
        assert_eq!(
            index.insert("id7", None, Amount::ZERO, hkd, None),
            Err(AddError::Duplicate)
        );
        assert!(index.contains("id999"));
        assert!(!index.contains("id1000"));
        assert!(!index.contains("id"));
        let (e, original) = index.get_mut("id42").unwrap();
        assert_eq!(e.amount, Amount::from_cents(42));
        assert_eq!(original, Some("of42"));
        e.seen = true;
        let (_, original) = index.get_mut("id43").unwrap();
        assert_eq!(original, None);
        assert_eq!(index.unseen().count(), 999);
        assert!(index.unseen().all(|(id, _, _)| id != "id42"));
    }
}
