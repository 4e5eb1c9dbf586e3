//! Reading recorded chain data: JSON lines, plain or zstd-compressed, from a file or stdin.

use crate::{Result, SourceError};
use palisade_primitives::BlockData;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Opens a recorded file (`-` for stdin); `.zst` files, and any input starting with the zstd
/// magic number, are decompressed on the fly.
pub fn open(path: &str) -> Result<RecordedReader> {
    let io = |e| SourceError::Io { path: path.to_string(), source: e };
    let raw: Box<dyn Read + Send> = if path == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(Path::new(path)).map_err(io)?)
    };
    let mut buffered = BufReader::with_capacity(1 << 20, raw);
    let head = buffered.fill_buf().map_err(io)?;
    let is_zstd = head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    let inner: Box<dyn BufRead + Send> = if is_zstd {
        Box::new(BufReader::with_capacity(
            1 << 20,
            zstd::stream::read::Decoder::with_buffer(buffered).map_err(io)?,
        ))
    } else {
        Box::new(buffered)
    };
    Ok(RecordedReader {
        path: path.to_string(),
        inner,
        line: 0,
        buf: String::new(),
        bytes: 0,
        last_len: 0,
    })
}

/// An iterator over the lines of a recorded file.
pub struct RecordedReader {
    path: String,
    inner: Box<dyn BufRead + Send>,
    line: u64,
    buf: String,
    bytes: u64,
    /// Length of the last line read by [`RecordedReader::next_owned`].
    last_len: usize,
}

impl std::fmt::Debug for RecordedReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedReader")
            .field("path", &self.path)
            .field("line", &self.line)
            .finish()
    }
}

/// One decoded line.
#[derive(Debug, Clone)]
pub struct RecordedLine {
    /// 1-based line number.
    pub line: u64,
    /// The decoded block.
    pub block: BlockData,
    /// Size of the line in bytes.
    pub bytes: u64,
}

impl RecordedReader {
    /// The file read (`-` for stdin).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Uncompressed bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Reads the next non-blank line into `s` (cleared first), without its trailing
    /// whitespace; its line number. `None` at the end.
    fn read_next(&mut self, s: &mut String) -> Option<Result<u64>> {
        loop {
            s.clear();
            match self.inner.read_line(s) {
                Ok(0) => return None,
                Ok(n) => {
                    self.line += 1;
                    self.bytes += n as u64;
                    if s.trim().is_empty() {
                        continue;
                    }
                    s.truncate(s.trim_end().len());
                    return Some(Ok(self.line));
                }
                Err(e) => {
                    self.line += 1;
                    return Some(Err(SourceError::Recorded {
                        path: self.path.clone(),
                        line: self.line,
                        reason: format!("cannot read: {e}"),
                    }));
                }
            }
        }
    }

    /// Reads the next raw line, skipping blank ones. `None` at the end.
    pub fn next_raw(&mut self) -> Option<Result<(u64, &str)>> {
        let mut buf = std::mem::take(&mut self.buf);
        let r = self.read_next(&mut buf);
        self.buf = buf;
        Some(r?.map(|line| (line, self.buf.as_str())))
    }

    /// Reads the next raw line into a string of its own (for another thread to decode),
    /// skipping blank ones: one copy out of the reader's buffer, sized from the line before so
    /// that long lines are not copied again as the string grows.
    pub fn next_owned(&mut self) -> Option<Result<(u64, String)>> {
        let mut s = String::with_capacity(self.last_len + 4096);
        let r = self.read_next(&mut s)?;
        self.last_len = s.len();
        Some(r.map(|line| (line, s)))
    }
}

impl Iterator for RecordedReader {
    type Item = Result<RecordedLine>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.path.clone();
        let (line, text) = match self.next_raw()? {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        let bytes = text.len() as u64 + 1;
        let err = |reason: String| SourceError::Recorded { path: path.clone(), line, reason };
        Some(
            BlockData::from_json_line(text)
                .map(|block| RecordedLine { line, block, bytes })
                .map_err(|e| err(e.to_string())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_plain_and_zstd_and_names_bad_lines() {
        let dir = std::env::temp_dir().join(format!("palisade-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = "{\"block\":{\"number\":\"0x1\"}}\n\n{\"block\":{\"number\":2}}\n{\"block\":{\"number\":";
        let plain = dir.join("a.jsonl");
        std::fs::write(&plain, text).unwrap();
        let zst = dir.join("a.jsonl.zst");
        let mut enc =
            zstd::stream::write::Encoder::new(std::fs::File::create(&zst).unwrap(), 3).unwrap();
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
        for p in [&plain, &zst] {
            let items: Vec<_> = open(p.to_str().unwrap()).unwrap().collect();
            assert_eq!(items.len(), 3);
            assert_eq!(items[1].as_ref().unwrap().block.header.number, 2);
            let e = items[2].as_ref().unwrap_err().to_string();
            assert!(e.contains(":4:"), "{e}");
        }
        assert!(open(dir.join("missing").to_str().unwrap()).is_err());
    }
}
