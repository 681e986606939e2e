//! A CSV record stream fed with byte chunks of any size (csv-core, the push parser inside the
//! `csv` crate), in bounded memory: it holds the bytes of one chunk and of one record.
//!
//! What it takes care of: a UTF-8 byte-order mark at the start (even split across chunks),
//! `\n`, `\r\n` and `\r` line ends, a last line with or without its line end, empty lines,
//! quoted fields, and the physical line on which each record starts.

use super::file_error;
use crate::error::{Error, Result};
use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use std::cell::Cell;

/// The longest record accepted, in bytes. A transaction row is a few hundred bytes (its
/// longest field, Remarks, is at most 256 characters).
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// The most fields a record may have; the widest file has 15.
pub const MAX_FIELDS: usize = 32;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// What [`RecordStream::advance`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A record is ready: read it with [`RecordStream::record`].
    Record,
    /// Everything fed so far has been read; feed more, or call `end`.
    NeedInput,
    /// The input has ended and every record has been read.
    End,
}

pub struct RecordStream {
    core: Reader,
    /// Bytes fed and not yet read by the CSV parser: `input[pos..]`.
    input: Vec<u8>,
    pos: usize,
    ended: bool,
    done: bool,
    bom_checked: bool,
    /// The record being read: its field bytes, one after the other, and where each ends.
    record: Vec<u8>,
    record_len: usize,
    ends: [usize; MAX_FIELDS],
    fields: usize,
    /// The record in `record` was handed out; the next advance starts a new one.
    record_ready: bool,
    line: u64,
}

impl Default for RecordStream {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordStream {
    pub fn new() -> Self {
        RecordStream {
            core: ReaderBuilder::new().build(),
            input: Vec::new(),
            pos: 0,
            ended: false,
            done: false,
            bom_checked: false,
            record: vec![0; 1024],
            record_len: 0,
            ends: [0; MAX_FIELDS],
            fields: 0,
            record_ready: false,
            line: 0,
        }
    }

    /// Adds bytes to read. Bytes fed after [`RecordStream::end`] are an error.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        if self.ended {
            return Err(file_error(
                None,
                "input was fed after the end of the file was signalled",
            ));
        }
        if self.pos == self.input.len() {
            self.input.clear();
        } else if self.pos > 0 {
            self.input.drain(..self.pos);
        }
        self.pos = 0;
        self.input.extend_from_slice(chunk);
        Ok(())
    }

    /// Says that no more bytes will come.
    pub fn end(&mut self) {
        self.ended = true;
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes held: the unread input and the record buffer.
    pub fn buffered_bytes(&self) -> usize {
        self.input.capacity() + self.record.capacity()
    }

    /// Reads on to the next record.
    pub fn advance(&mut self) -> Result<Step> {
        if self.record_ready {
            self.record_ready = false;
            self.record_len = 0;
            self.fields = 0;
        }
        if self.done {
            return Ok(Step::End);
        }
        if !self.bom_checked {
            let pending = &self.input[self.pos..];
            let n = pending.len().min(BOM.len());
            if pending[..n] != BOM[..n] {
                self.bom_checked = true;
            } else if n == BOM.len() {
                self.pos += BOM.len();
                self.bom_checked = true;
            } else if self.ended {
                // A file that is only the start of a BOM: let the parser see those bytes.
                self.bom_checked = true;
            } else {
                return Ok(Step::NeedInput);
            }
        }
        loop {
            let input = &self.input[self.pos..];
            if input.is_empty() && !self.ended {
                return Ok(Step::NeedInput);
            }
            let (result, nin, nout, nend) = self.core.read_record(
                input,
                &mut self.record[self.record_len..],
                &mut self.ends[self.fields..],
            );
            let last_byte = if nin > 0 { Some(input[nin - 1]) } else { None };
            self.pos += nin;
            self.record_len += nout;
            self.fields += nend;
            match result {
                ReadRecordResult::InputEmpty => {
                    if self.ended && self.pos == self.input.len() && nin == 0 {
                        // csv-core answers an empty input with Record or End; never loop.
                        self.done = true;
                        return Ok(Step::End);
                    }
                }
                ReadRecordResult::OutputFull => {
                    if self.record.len() >= MAX_RECORD_BYTES {
                        return Err(file_error(
                            Some(self.core.line()),
                            format!(
                                "a record is longer than {MAX_RECORD_BYTES} bytes; a row of this file is a few hundred bytes"
                            ),
                        ));
                    }
                    let new_len = (self.record.len() * 2).min(MAX_RECORD_BYTES);
                    self.record.resize(new_len, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    return Err(file_error(
                        Some(self.core.line()),
                        format!("a record has more than {MAX_FIELDS} fields"),
                    ));
                }
                ReadRecordResult::Record => {
                    // `line()` counts the `\n` read so far. Take away those inside the record
                    // (quoted line breaks) and the one that ended it, if it was a `\n` (a
                    // `\r\n` ends at the `\r`: its `\n` is read with the next record).
                    let inner =
                        memchr::memchr_iter(b'\n', &self.record[..self.record_len]).count() as u64;
                    let ended_by_lf = u64::from(last_byte == Some(b'\n'));
                    self.line = self.core.line() - inner - ended_by_lf;
                    self.record_ready = true;
                    return Ok(Step::Record);
                }
                ReadRecordResult::End => {
                    self.done = true;
                    return Ok(Step::End);
                }
            }
        }
    }

    /// The record found by the last [`Step::Record`].
    pub fn record(&self) -> RawRecord<'_> {
        RawRecord {
            line: self.line,
            bytes: &self.record[..self.record_len],
            ends: &self.ends[..self.fields],
        }
    }
}

/// What [`FileStream::step`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStep {
    /// A data row is ready in `stream.record()`.
    Row,
    NeedInput,
    End,
}

/// A [`RecordStream`] of a file with a header line: checks the header once, passes over
/// lines of blanks, counts the data rows, and stays failed after its first error.
pub struct FileStream {
    pub stream: RecordStream,
    header_seen: bool,
    /// The first error, answered again by every later call. A `Cell` so that a failure can
    /// be recorded while a row borrowed from `stream` is being decoded.
    failed: Cell<Option<Error>>,
    rows: u64,
    what: &'static str,
}

impl FileStream {
    /// `what` names the file in messages ("transaction file").
    pub fn new(what: &'static str) -> Self {
        FileStream {
            stream: RecordStream::new(),
            header_seen: false,
            failed: Cell::new(None),
            rows: 0,
            what,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.check()?;
        self.stream.feed(chunk).map_err(|e| self.fail(e))
    }

    fn check(&self) -> Result<()> {
        match self.failed.take() {
            None => Ok(()),
            Some(e) => {
                self.failed.set(Some(e.clone()));
                Err(e)
            }
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Remembers an error: every later call answers it again.
    pub fn fail(&self, e: Error) -> Error {
        self.failed.set(Some(e.clone()));
        e
    }

    /// Reads on to the next data row; `header` checks the header line when it comes.
    pub fn step(&mut self, mut header: impl FnMut(RawRecord<'_>) -> Result<()>) -> Result<RowStep> {
        self.check()?;
        loop {
            let step = self.stream.advance().map_err(|e| self.fail(e))?;
            match step {
                Step::Record => {
                    let record = self.stream.record();
                    if record.is_blank() {
                        continue;
                    }
                    if !self.header_seen {
                        let checked = header(record);
                        checked.map_err(|e| self.fail(e))?;
                        self.header_seen = true;
                        continue;
                    }
                    self.rows += 1;
                    return Ok(RowStep::Row);
                }
                Step::NeedInput => return Ok(RowStep::NeedInput),
                Step::End => {
                    if !self.header_seen {
                        let e = file_error(
                            None,
                            format!("the {} is empty: its header line is missing", self.what),
                        );
                        return Err(self.fail(e));
                    }
                    return Ok(RowStep::End);
                }
            }
        }
    }
}

/// One CSV record: its fields as raw bytes (not trimmed) and the line it starts on (from 1).
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub line: u64,
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl<'a> RawRecord<'a> {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i` (from 0) with spaces and tabs around it removed.
    #[inline]
    pub fn field(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        trim(&self.bytes[start..self.ends[i]])
    }

    /// A line of nothing but blanks: one field of spaces and tabs. (A line of commas is
    /// not blank: it is a row with empty fields, and an error.)
    pub fn is_blank(&self) -> bool {
        self.ends.len() == 1 && self.bytes.iter().all(|&b| b == b' ' || b == b'\t')
    }
}

#[inline]
pub fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(chunks: &[&[u8]]) -> Vec<(u64, Vec<String>)> {
        let mut s = RecordStream::new();
        let mut out = Vec::new();
        let drain = |s: &mut RecordStream, out: &mut Vec<(u64, Vec<String>)>| {
            while s.advance().unwrap() == Step::Record {
                let r = s.record();
                out.push((
                    r.line,
                    (0..r.len())
                        .map(|i| String::from_utf8(r.field(i).to_vec()).unwrap())
                        .collect(),
                ));
            }
        };
        for c in chunks {
            s.feed(c).unwrap();
            drain(&mut s, &mut out);
        }
        s.end();
        drain(&mut s, &mut out);
        assert!(s.is_done());
        out
    }

    #[test]
    fn lines_bom_and_line_ends() {
        let want = vec![
            (1, vec!["a".to_string(), "b".to_string()]),
            (3, vec!["c".to_string(), "d".to_string()]),
            (4, vec!["e\nf".to_string(), "g".to_string()]),
            (6, vec!["h".to_string(), "".to_string()]),
        ];
        for text in [
            &b"\xef\xbb\xbfa,b\n\nc , d\n\"e\nf\",g\nh,\n"[..],
            b"a,b\r\n\r\nc,d\r\n\"e\nf\",g\r\nh,",
            b"a,b\n\nc,d\r\n\"e\nf\",g\r\nh,\r\n",
        ] {
            assert_eq!(records(&[text]), want, "{text:?}");
            // Split at every position, and byte by byte.
            for cut in 0..=text.len() {
                assert_eq!(records(&[&text[..cut], &text[cut..]]), want, "cut {cut}");
            }
            let bytes: Vec<&[u8]> = text.chunks(1).collect();
            assert_eq!(records(&bytes), want);
        }
    }

    #[test]
    fn limits() {
        let mut s = RecordStream::new();
        s.feed(&vec![b'x'; MAX_RECORD_BYTES + 10]).unwrap();
        s.end();
        let err = s.advance().unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidFile);
        let mut s = RecordStream::new();
        s.feed(",".repeat(MAX_FIELDS).as_bytes()).unwrap();
        s.end();
        assert!(s.advance().is_err());
        let mut s = RecordStream::new();
        s.end();
        assert!(s.feed(b"x").is_err());
    }
}
