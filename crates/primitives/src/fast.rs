//! The fast path for recorded lines: a scanner written for their shape, straight from the bytes
//! into [`BlockData`], with no intermediate `serde_json::Value` tree and no intermediate copies.
//!
//! Strings are found with `memchr` (SIMD) and borrowed from the line; hex goes straight into the
//! typed values (`const-hex`); each receipt and trace is converted as soon as it is read, so the
//! only allocations are the ones [`BlockData`] itself owns. Fields Palisade does not read are
//! skipped lexically, without being materialised.
//!
//! Whenever both paths accept a line they produce exactly the same [`BlockData`]. The fast path
//! accepts a subset of what the `Value` path accepts, with one documented exception
//! ([`lexical_only`]): serde_json checks the range of numbers only when it materialises a value,
//! so a field this path skips may hold an out-of-range number that the `Value` path refuses. The
//! fields Palisade reads are checked alike on both paths. On anything else (escapes, snake_case
//! aliases, numbers that are not plain integers, odd types, duplicate keys, malformed values) it
//! fails and [`BlockData::from_json_line`] falls back to the `Value` path, which produces the
//! precise error message. The differential test in `crates/testing/tests/decode_robustness.rs`
//! holds the two paths equal on real and mutated data.

use crate::block::{notes_for, CallFrame, Header, Log, Receipt, Trace, TraceAction, Transaction};
use crate::quantity::parse_u256_str;
use crate::{BlockData, RecordedBlock};
use alloy_primitives::{Address, Bytes, B256, U256};

/// The fast path's result: an error says why it declined a line ("use the `Value` path").
type R<T> = Result<T, String>;

fn no<T>(why: &str) -> R<T> {
    Err(why.to_string())
}

/// How deep skipped values may nest before the line is left to the `Value` path (which has its
/// own, larger, limit).
const MAX_DEPTH: u32 = 128;

/// A quantity as it appears in JSON: a string (hex or decimal) or a plain integer.
#[derive(Debug, Clone, Copy)]
enum Q<'a> {
    Str(&'a str),
    U64(u64),
}

/// Same rules as `quantity::u256` on a `Value`.
fn q256(q: Q<'_>) -> R<U256> {
    match q {
        Q::Str(s) => parse_u256_str(s),
        Q::U64(u) => Ok(U256::from(u)),
    }
}

fn qu64(q: Option<Q<'_>>) -> R<Option<u64>> {
    q.map(|q| q256(q).and_then(|x| u64::try_from(x).map_err(|_| "too large".to_string())))
        .transpose()
}

fn qu128(q: Option<Q<'_>>) -> R<Option<u128>> {
    q.map(|q| q256(q).and_then(|x| u128::try_from(x).map_err(|_| "too large".to_string())))
        .transpose()
}

fn qu256(q: Option<Q<'_>>) -> R<Option<U256>> {
    q.map(q256).transpose()
}

fn hash(s: Option<&str>) -> R<Option<B256>> {
    s.map(|s| s.parse::<B256>().map_err(|e| e.to_string())).transpose()
}

fn addr(s: Option<&str>) -> R<Option<Address>> {
    s.map(|s| s.parse::<Address>().map_err(|e| e.to_string())).transpose()
}

fn bytes(s: Option<&str>) -> R<Option<Bytes>> {
    s.map(|s| s.parse::<Bytes>().map_err(|e| e.to_string())).transpose()
}

/// First present key wins, as in the `Value` path (`opt2`).
fn either<T>(first: Option<Option<T>>, second: Option<T>) -> Option<T> {
    match first {
        Some(v) => v,
        None => second,
    }
}

/// Marks field `bit` of an object as seen; a key seen twice declines the line (serde's
/// `duplicate field`; the `Value` path keeps the last).
fn once(seen: &mut u32, bit: u32) -> R<()> {
    if *seen & (1 << bit) != 0 {
        return no("duplicate field");
    }
    *seen |= 1 << bit;
    Ok(())
}

/// A cursor over one line.
struct Cur<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> Cur<'a> {
    fn new(s: &'a str) -> Self {
        Self { s, b: s.as_bytes(), i: 0, depth: 0 }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                return Some(c);
            }
        }
        None
    }

    #[inline]
    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            no("unexpected character")
        }
    }

    fn literal(&mut self, word: &str) -> R<()> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(())
        } else {
            no("invalid literal")
        }
    }

    /// `null` (consumed: true) or something else (not consumed: false).
    #[inline]
    fn null(&mut self) -> R<bool> {
        if self.peek() == Some(b'n') {
            self.literal("null")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Where the string that starts at `start` ends (the index of its closing quote), eight
    /// bytes at a time (SWAR): each word is tested at once for a quote, a backslash or a
    /// control character. For strings up to a few dozen bytes (keys, quantities, hashes,
    /// addresses), where a SIMD search's setup costs more than it saves.
    #[inline]
    fn end_short(&self, start: usize) -> R<usize> {
        const LO: u64 = u64::from_le_bytes([0x01; 8]);
        const HI: u64 = u64::from_le_bytes([0x80; 8]);
        // Bytes equal to zero (below 0x20 for `below`), flagged in their high bit. A flag can be
        // wrong only above a true one (borrows run upwards), so the lowest flag is exact.
        let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
        let below = |v: u64| v.wrapping_sub(LO * 0x20) & !v & HI;
        let b = self.b;
        let mut i = start;
        while let Some(w) = b.get(i..i + 8) {
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            let m = zero(w ^ (LO * u64::from(b'"'))) | zero(w ^ (LO * u64::from(b'\\'))) | below(w);
            if m != 0 {
                return self.stop(i + (m.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        while let Some(&c) = b.get(i) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                return self.stop(i);
            }
            i += 1;
        }
        no("unterminated string")
    }

    /// The byte at `j` ends a string: a quote does, a backslash or a control character declines.
    fn stop(&self, j: usize) -> R<usize> {
        match self.b[j] {
            b'"' => Ok(j),
            b'\\' => no("string escapes: use the Value path"),
            _ => no("control character in a string"),
        }
    }

    /// The same with `memchr` (SIMD), then a vectorised check for control characters: for long
    /// strings (calldata, outputs, log data).
    #[inline]
    fn end_long(&self, start: usize) -> R<usize> {
        let end = match memchr::memchr2(b'"', b'\\', &self.b[start..]) {
            Some(j) => self.stop(start + j)?,
            None => return no("unterminated string"),
        };
        let body = &self.b[start..end];
        let mut chunks = body.chunks_exact(32);
        for c in &mut chunks {
            // A fixed-width minimum: one vector instruction or two.
            if c.iter().fold(0xff, |m: u8, &x| m.min(x)) < 0x20 {
                return no("control character in a string");
            }
        }
        if chunks.remainder().iter().any(|&x| x < 0x20) {
            return no("control character in a string");
        }
        Ok(end)
    }

    /// A string without escapes or control characters, borrowed from the line; `end` finds its
    /// closing quote.
    #[inline]
    fn quoted(&mut self, end: impl FnOnce(&Self, usize) -> R<usize>) -> R<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let e = end(self, start)?;
        self.i = e + 1;
        // The line is a `str` and quotes are ASCII, so these are character boundaries.
        Ok(&self.s[start..e])
    }

    /// A string of up to a few dozen bytes (a key, a quantity, a hash, an address, a word).
    #[inline]
    fn string(&mut self) -> R<&'a str> {
        self.quoted(Self::end_short)
    }

    /// Long hex (calldata, outputs, log data), or null.
    fn opt_data(&mut self) -> R<Option<&'a str>> {
        if self.null()? {
            return Ok(None);
        }
        self.quoted(Self::end_long).map(Some)
    }

    fn opt_string(&mut self) -> R<Option<&'a str>> {
        if self.null()? {
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    /// The digits of a plain non-negative integer that fits a `u64`; anything else (a sign, a
    /// fraction, an exponent, a leading zero, overflow) declines.
    fn integer(&mut self) -> R<u64> {
        self.peek();
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or_else(|| "integer too large".to_string())?;
            self.i += 1;
        }
        let n = self.i - start;
        if n == 0 || (n > 1 && self.b[start] == b'0') {
            return no("not a plain integer");
        }
        if matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E')) {
            return no("not a plain integer");
        }
        Ok(v)
    }

    /// A quantity: a string or a plain integer.
    fn q(&mut self) -> R<Q<'a>> {
        match self.peek() {
            Some(b'"') => self.string().map(Q::Str),
            Some(b'0'..=b'9') => self.integer().map(Q::U64),
            _ => no("not a quantity"),
        }
    }

    fn opt_q(&mut self) -> R<Option<Q<'a>>> {
        if self.null()? {
            Ok(None)
        } else {
            self.q().map(Some)
        }
    }

    /// A JSON number, checked lexically only (as serde_json does for values it ignores).
    fn number(&mut self) -> R<()> {
        let b = self.b;
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > s
        };
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return no("invalid number"),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return no("invalid number");
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return no("invalid number");
            }
        }
        self.i = i;
        Ok(())
    }

    /// Any value, checked lexically and passed over.
    fn skip(&mut self) -> R<()> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => self.object(|c, _| c.skip()),
            Some(b'[') => self.array(|c| c.skip()),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => no("expected a value"),
        }
    }

    /// Any value, passed over, as the slice of the line it spans (a `RawValue`).
    fn raw(&mut self) -> R<Option<&'a str>> {
        if self.null()? {
            return Ok(None);
        }
        let start = self.i;
        self.skip()?;
        Ok(Some(&self.s[start..self.i]))
    }

    /// An object: `f` is called with each key, the cursor on its value, and must consume it.
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a str) -> R<()>) -> R<()> {
        self.eat(b'{')?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return no("nested too deep");
        }
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                let k = self.string()?;
                self.eat(b':')?;
                f(self, k)?;
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return no("expected , or }"),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// An array: `f` is called with the cursor on each element and must consume it.
    fn array(&mut self, mut f: impl FnMut(&mut Self) -> R<()>) -> R<()> {
        self.eat(b'[')?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return no("nested too deep");
        }
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                f(self)?;
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => return no("expected , or ]"),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// `null` (None) or an array whose elements `f` reads.
    fn opt_array<T>(&mut self, mut f: impl FnMut(&mut Self) -> R<T>) -> R<Option<Vec<T>>> {
        if self.null()? {
            return Ok(None);
        }
        let mut out = Vec::new();
        self.array(|c| {
            out.push(f(c)?);
            Ok(())
        })?;
        Ok(Some(out))
    }

    /// `null` (None) or an object whose fields `f` reads.
    fn opt_object(&mut self, f: impl FnMut(&mut Self, &'a str) -> R<()>) -> R<bool> {
        if self.null()? {
            return Ok(false);
        }
        self.object(f)?;
        Ok(true)
    }
}

fn header(c: &mut Cur<'_>, txs: &mut Option<Vec<Transaction>>) -> R<Header> {
    let (mut number, mut hash_s, mut parent, mut timestamp, mut miner) =
        (None, None, None, None, None);
    let (mut gas_limit, mut gas_used, mut base_fee) = (None, None, None);
    let (mut state_root, mut tx_root, mut receipts_root) = (None, None, None);
    let mut seen = 0;
    c.object(|c, k| {
        match k {
            "number" => {
                once(&mut seen, 0)?;
                number = c.opt_q()?;
            }
            "hash" => {
                once(&mut seen, 1)?;
                hash_s = c.opt_string()?;
            }
            "parentHash" => {
                once(&mut seen, 2)?;
                parent = c.opt_string()?;
            }
            "timestamp" => {
                once(&mut seen, 3)?;
                timestamp = c.opt_q()?;
            }
            "miner" => {
                once(&mut seen, 4)?;
                miner = c.opt_string()?;
            }
            "gasLimit" => {
                once(&mut seen, 5)?;
                gas_limit = c.opt_q()?;
            }
            "gasUsed" => {
                once(&mut seen, 6)?;
                gas_used = c.opt_q()?;
            }
            "baseFeePerGas" => {
                once(&mut seen, 7)?;
                base_fee = c.opt_q()?;
            }
            "stateRoot" => {
                once(&mut seen, 8)?;
                state_root = c.opt_string()?;
            }
            "transactionsRoot" => {
                once(&mut seen, 9)?;
                tx_root = c.opt_string()?;
            }
            "receiptsRoot" => {
                once(&mut seen, 10)?;
                receipts_root = c.opt_string()?;
            }
            "transactions" => {
                once(&mut seen, 11)?;
                let mut i = 0u64;
                *txs = c.opt_array(|c| {
                    let t = transaction(c, i)?;
                    i += 1;
                    Ok(t)
                })?;
            }
            _ => c.skip()?,
        }
        Ok(())
    })?;
    Ok(Header {
        number: qu64(number)?.ok_or("no number")?,
        hash: hash(hash_s)?,
        parent_hash: hash(parent)?,
        timestamp: qu64(timestamp)?,
        miner: addr(miner)?,
        gas_limit: qu64(gas_limit)?,
        gas_used: qu64(gas_used)?,
        base_fee_per_gas: qu128(base_fee)?,
        state_root: hash(state_root)?,
        transactions_root: hash(tx_root)?,
        receipts_root: hash(receipts_root)?,
    })
}

/// A transaction object, or its hash alone.
fn transaction(c: &mut Cur<'_>, index: u64) -> R<Transaction> {
    if c.peek() == Some(b'"') {
        return Ok(Transaction { index, hash: hash(Some(c.string()?))?, ..Default::default() });
    }
    let (mut ti, mut h, mut from, mut to, mut value, mut gas) =
        (None, None, None, None, None, None);
    let (mut input, mut data, mut nonce, mut ty) = (None, None, None, None);
    let mut seen = 0;
    c.object(|c, k| {
        match k {
            "transactionIndex" => {
                once(&mut seen, 0)?;
                ti = c.opt_q()?;
            }
            "hash" => {
                once(&mut seen, 1)?;
                h = c.opt_string()?;
            }
            "from" => {
                once(&mut seen, 2)?;
                from = c.opt_string()?;
            }
            "to" => {
                once(&mut seen, 3)?;
                to = c.opt_string()?;
            }
            "value" => {
                once(&mut seen, 4)?;
                value = c.opt_q()?;
            }
            "gas" => {
                once(&mut seen, 5)?;
                gas = c.opt_q()?;
            }
            "input" => {
                once(&mut seen, 6)?;
                input = Some(c.opt_data()?);
            }
            "data" => {
                once(&mut seen, 7)?;
                data = c.opt_data()?;
            }
            "nonce" => {
                once(&mut seen, 8)?;
                nonce = c.opt_q()?;
            }
            "type" => {
                once(&mut seen, 9)?;
                ty = c.opt_q()?;
            }
            _ => c.skip()?,
        }
        Ok(())
    })?;
    Ok(Transaction {
        index: qu64(ti)?.unwrap_or(index),
        hash: hash(h)?,
        from: addr(from)?,
        to: addr(to)?,
        value: qu256(value)?,
        gas: qu64(gas)?,
        input: bytes(either(input, data))?,
        nonce: qu64(nonce)?,
        tx_type: qu64(ty)?,
    })
}

fn receipt(c: &mut Cur<'_>) -> R<Receipt> {
    let (mut th, mut ti, mut status, mut gas_used, mut created) = (None, None, None, None, None);
    let mut logs = Vec::new();
    let mut seen = 0;
    c.object(|c, k| {
        match k {
            "transactionHash" => {
                once(&mut seen, 0)?;
                th = c.opt_string()?;
            }
            "transactionIndex" => {
                once(&mut seen, 1)?;
                ti = c.opt_q()?;
            }
            "status" => {
                once(&mut seen, 2)?;
                status = c.opt_q()?;
            }
            "gasUsed" => {
                once(&mut seen, 3)?;
                gas_used = c.opt_q()?;
            }
            "contractAddress" => {
                once(&mut seen, 4)?;
                created = c.opt_string()?;
            }
            "logs" => {
                once(&mut seen, 5)?;
                logs = c.opt_array(log)?.unwrap_or_default();
            }
            // The snake_case spellings are the `Value` path's business.
            "transaction_hash" | "transaction_index" | "gas_used" => {
                return no("snake_case receipt fields")
            }
            _ => c.skip()?,
        }
        Ok(())
    })?;
    Ok(Receipt {
        transaction_hash: hash(th)?,
        transaction_index: qu64(ti)?,
        status: qu64(status)?.map(|s| s == 1),
        gas_used: qu64(gas_used)?,
        contract_address: addr(created)?,
        logs,
    })
}

fn log(c: &mut Cur<'_>) -> R<Log> {
    let (mut address, mut data, mut index) = (None, None, None);
    let mut topics = Vec::new();
    let mut seen = 0;
    c.object(|c, k| {
        match k {
            "address" => {
                once(&mut seen, 0)?;
                address = c.opt_string()?;
            }
            "topics" => {
                once(&mut seen, 1)?;
                topics = c
                    .opt_array(|c| c.string()?.parse::<B256>().map_err(|e| e.to_string()))?
                    .unwrap_or_default();
            }
            "data" => {
                once(&mut seen, 2)?;
                data = c.opt_data()?;
            }
            "logIndex" => {
                once(&mut seen, 3)?;
                index = c.opt_q()?;
            }
            _ => c.skip()?,
        }
        Ok(())
    })?;
    Ok(Log {
        address: addr(address)?.ok_or("log has no address")?,
        topics,
        data: bytes(data)?.unwrap_or_default(),
        log_index: qu64(index)?,
    })
}

fn trace(c: &mut Cur<'_>) -> R<Trace> {
    let (mut kind, mut error, mut trace_address, mut position, mut th) =
        (None, None, None, None, None);
    let (mut from, mut author, mut to, mut address, mut call_type) = (None, None, None, None, None);
    let (mut input, mut init, mut value, mut balance) = (None, None, None, None);
    let (mut created, mut output, mut code, mut has_action) = (None, None, None, false);
    let mut seen = 0;
    c.object(|c, k| {
        match k {
            "type" => {
                once(&mut seen, 0)?;
                kind = Some(c.string()?);
            }
            "action" => {
                once(&mut seen, 1)?;
                has_action = true;
                let mut seen = 0;
                c.object(|c, k| {
                    match k {
                        "from" => {
                            once(&mut seen, 0)?;
                            from = Some(c.opt_string()?);
                        }
                        "author" => {
                            once(&mut seen, 1)?;
                            author = c.opt_string()?;
                        }
                        "to" => {
                            once(&mut seen, 2)?;
                            to = Some(c.opt_string()?);
                        }
                        "address" => {
                            once(&mut seen, 3)?;
                            address = c.opt_string()?;
                        }
                        "callType" => {
                            once(&mut seen, 4)?;
                            call_type = c.opt_string()?;
                        }
                        "input" => {
                            once(&mut seen, 5)?;
                            input = Some(c.opt_data()?);
                        }
                        "init" => {
                            once(&mut seen, 6)?;
                            init = c.opt_data()?;
                        }
                        "value" => {
                            once(&mut seen, 7)?;
                            value = Some(c.opt_q()?);
                        }
                        "balance" => {
                            once(&mut seen, 8)?;
                            balance = c.opt_q()?;
                        }
                        "call_type" => return no("snake_case trace fields"),
                        _ => c.skip()?,
                    }
                    Ok(())
                })?;
            }
            "result" => {
                once(&mut seen, 2)?;
                let mut seen = 0;
                c.opt_object(|c, k| {
                    match k {
                        "address" => {
                            once(&mut seen, 0)?;
                            created = c.opt_string()?;
                        }
                        "output" => {
                            once(&mut seen, 1)?;
                            output = c.opt_data()?;
                        }
                        "code" => {
                            once(&mut seen, 2)?;
                            code = c.opt_data()?;
                        }
                        _ => c.skip()?,
                    }
                    Ok(())
                })?;
            }
            "error" => {
                once(&mut seen, 3)?;
                error = c.opt_string()?;
            }
            "traceAddress" => {
                once(&mut seen, 4)?;
                trace_address = c.opt_array(Cur::integer)?;
            }
            "transactionPosition" => {
                once(&mut seen, 5)?;
                position = c.opt_q()?;
            }
            "transactionHash" => {
                once(&mut seen, 6)?;
                th = c.opt_string()?;
            }
            "trace_address" | "transaction_position" | "transaction_hash" => {
                return no("snake_case trace fields")
            }
            _ => c.skip()?,
        }
        Ok(())
    })?;
    let (Some(kind), true) = (kind, has_action) else {
        return no("trace without type or action");
    };
    Ok(Trace {
        kind: kind.to_string(),
        action: TraceAction {
            from: addr(either(from, author))?,
            to: addr(either(to, address))?,
            call_type: call_type.map(str::to_string),
            input: bytes(either(input, init))?.unwrap_or_default(),
            value: qu256(either(value, balance))?,
        },
        created: addr(created)?,
        output: bytes(output.or(code))?,
        error: error.map(str::to_string),
        trace_address: trace_address.unwrap_or_default(),
        transaction_position: qu64(position)?,
        transaction_hash: hash(th)?,
    })
}

/// True for errors of the `Value` path that the fast path does not raise on fields it skips
/// (see the module docs).
pub fn lexical_only(value_path_error: &str) -> bool {
    value_path_error.contains("number out of range")
}

/// The parts of a line other than the block, receipts and traces: rare or small, kept as the
/// slices of the line they span and decoded through the `Value` path's parsers.
#[derive(Default)]
struct Rest<'a> {
    call_traces: Option<&'a str>,
    proofs: Option<&'a str>,
    calls: Option<&'a str>,
    code: Option<&'a str>,
    beacon: Option<&'a str>,
    comet: Option<&'a str>,
}

/// Decodes a recorded line on the fast path. An error means "use the `Value` path", not
/// necessarily that the line is invalid.
pub fn decode(line: &str) -> Result<BlockData, String> {
    let mut c = Cur::new(line);
    let mut header_and_txs: Option<(Header, Option<Vec<Transaction>>)> = None;
    let (mut receipts, mut traces) = (None, None);
    let mut rest = Rest::default();
    let mut seen = 0;
    c.object(|c, k| {
        match k {
            "block" => {
                once(&mut seen, 0)?;
                let mut txs = None;
                let h = header(c, &mut txs)?;
                header_and_txs = Some((h, txs));
            }
            "receipts" => {
                once(&mut seen, 1)?;
                receipts = c.opt_array(receipt)?;
            }
            "traces" => {
                once(&mut seen, 2)?;
                traces = c.opt_array(trace)?;
            }
            "call_traces" => {
                once(&mut seen, 3)?;
                rest.call_traces = c.raw()?;
            }
            "proofs" => {
                once(&mut seen, 4)?;
                rest.proofs = c.raw()?;
            }
            "calls" => {
                once(&mut seen, 5)?;
                rest.calls = c.raw()?;
            }
            "code" => {
                once(&mut seen, 6)?;
                rest.code = c.raw()?;
            }
            "beacon" => {
                once(&mut seen, 7)?;
                rest.beacon = c.raw()?;
            }
            "comet" => {
                once(&mut seen, 8)?;
                rest.comet = c.raw()?;
            }
            _ => return no("unknown field"),
        }
        Ok(())
    })?;
    if c.peek().is_some() {
        return no("trailing characters");
    }
    let Some((header, txs)) = header_and_txs else {
        return no("no block");
    };
    let number = header.number;
    let has_tx_list = txs.is_some();
    let transactions = txs.unwrap_or_default();
    let call_traces: Option<Vec<(Option<B256>, CallFrame)>> = match rest.call_traces {
        None => None,
        // Rare: decode this part through the `Value` path.
        Some(raw) => {
            let v: serde_json::Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
            let rec = RecordedBlock {
                prestate: serde_json::Value::Null,
                block: serde_json::json!({"number": number}),
                receipts: serde_json::Value::Null,
                traces: serde_json::Value::Null,
                call_traces: v,
                proofs: serde_json::Value::Null,
                calls: serde_json::Value::Null,
                code: serde_json::Value::Null,
                beacon: serde_json::Value::Null,
                comet: serde_json::Value::Null,
            };
            BlockData::from_recorded(rec).map_err(|e| e.to_string())?.call_traces
        }
    };
    let value = |r: Option<&str>| -> R<serde_json::Value> {
        r.map_or(Ok(serde_json::Value::Null), |r| {
            serde_json::from_str(r).map_err(|e| e.to_string())
        })
    };
    let state = match rest.proofs {
        None => None,
        // Small and rare: decode through the `Value` path's parser.
        Some(raw) => crate::block::parse_proofs(&value(Some(raw))?)?,
    };
    let calls = crate::block::parse_calls(&value(rest.calls)?)?;
    let code = crate::block::parse_code(&value(rest.code)?)?;
    let beacon = crate::block::parse_consensus(&value(rest.beacon)?)?;
    let comet = crate::block::parse_consensus(&value(rest.comet)?)?;
    let notes = notes_for(
        &header,
        has_tx_list,
        receipts.is_none(),
        traces.is_none() && call_traces.is_none(),
    );
    Ok(BlockData {
        header,
        transactions,
        receipts,
        traces,
        call_traces,
        state,
        calls,
        code,
        notes,
        beacon,
        comet,
        prestate: None,
        derived: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanner_declines_what_it_does_not_read_exactly() {
        for line in [
            r#"{"block":{"number":"0x1","extraData":"a\"b"}}"#,
            r#"{"block":{"number":"0x1"},"block":{"number":"0x2"}}"#,
            r#"{"block":{"number":1.0}}"#,
            r#"{"block":{"number":-1}}"#,
            r#"{"block":{"number":01}}"#,
            r#"{"block":{"number":"0x1"}} x"#,
            r#"{"block":{"number":"0x1"},"other":1}"#,
            r#"{"block":{"number":"0x1","x":[1,]}}"#,
            r#"{"block":{"number":"0x1","x":"a	b"}}"#,
            r#"{"block":{"number":"0x1"},"receipts":[{"transaction_hash":"0x00"}]}"#,
        ] {
            assert!(decode(line).is_err(), "{line}");
        }
    }

    #[test]
    fn the_scanner_reads_what_the_value_path_reads() {
        let line = r#" {"block":{"number":18446744073709551615,"hash":null,"x":{"y":[true,false,null,-1.5e-3]},"transactions":["0x0000000000000000000000000000000000000000000000000000000000000001"]},"receipts":null,"traces":[{"type":"call","action":{"from":"0x0000000000000000000000000000000000000001","to":null,"input":"0x01","value":"0x10"},"result":null,"traceAddress":[0,1]}]} "#;
        let fast = decode(line).unwrap();
        let slow = RecordedBlock::from_json_line(line).and_then(BlockData::from_recorded).unwrap();
        assert_eq!(fast, slow);
        assert_eq!(fast.header.number, u64::MAX);
        assert_eq!(fast.traces.as_ref().unwrap()[0].trace_address, vec![0, 1]);
    }
}
