//! Files of a backup in a local folder: SQL → zstd → age → file, with the
//! stored bytes' SHA-256 computed on the way out.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use age::x25519;
use nfops_core::{Error, Result};
use nfops_mysql::{DumpFile, DumpSink, FileEntry};
use sha2::{Digest, Sha256};

/// Suffix of every encrypted file.
pub const SUFFIX: &str = ".zst.age";

/// zstd level: 1 is the fastest and, on SQL dumps here, as small as 3.
pub const ZSTD_LEVEL: i32 = 1;

/// Writes encrypted, compressed files under one folder.
pub struct LocalSink {
    dir: PathBuf,
    recipients: Vec<x25519::Recipient>,
}

impl LocalSink {
    /// Files go under `dir`, encrypted to every one of `recipients` (at least one).
    pub fn new(dir: &Path, recipients: Vec<x25519::Recipient>) -> Self {
        Self {
            dir: dir.to_owned(),
            recipients,
        }
    }
}

/// A writer that hashes and counts what passes through.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type Chain = zstd::Encoder<'static, age::stream::StreamWriter<HashingWriter<BufWriter<File>>>>;

struct EncryptedFile {
    name: String,
    path: PathBuf,
    chain: Chain,
}

impl Write for EncryptedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.chain.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.chain.flush()
    }
}

impl DumpFile for EncryptedFile {
    fn finish(self: Box<Self>) -> Result<FileEntry> {
        let EncryptedFile { name, path, chain } = *self;
        let io_err = |e| Error::io(format!("finishing backup file {}", path.display()), e);
        let age = chain.finish().map_err(io_err)?;
        let mut hashing = age.finish().map_err(io_err)?;
        hashing.flush().map_err(io_err)?;
        let file = hashing
            .inner
            .into_inner()
            .map_err(|e| io_err(e.into_error()))?;
        file.sync_all().map_err(io_err)?;
        Ok(FileEntry {
            name,
            bytes: hashing.bytes,
            sha256: hex::encode(hashing.hasher.finalize()),
            sql_bytes: 0,
        })
    }
}

impl DumpSink for LocalSink {
    fn create(&self, name: &str) -> Result<Box<dyn DumpFile>> {
        let stored = format!("{name}{SUFFIX}");
        let path = self.dir.join(&stored);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating folder {}", parent.display()), e))?;
        }
        let file = File::create(&path)
            .map_err(|e| Error::io(format!("creating backup file {}", path.display()), e))?;
        let hashing = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
        let encryptor = age::Encryptor::with_recipients(
            self.recipients.iter().map(|r| r as &dyn age::Recipient),
        )
        .map_err(|e| Error::internal(format!("age refused the backup recipients: {e}")))?;
        let age = encryptor
            .wrap_output(hashing)
            .map_err(|e| Error::io(format!("writing backup file {}", path.display()), e))?;
        let chain = zstd::Encoder::new(age, ZSTD_LEVEL)
            .map_err(|e| Error::io(format!("starting compression of {}", path.display()), e))?;
        Ok(Box::new(EncryptedFile {
            name: stored,
            path,
            chain,
        }))
    }
}

/// SHA-256 and size of a file on disk.
pub fn sha256_file(path: &Path) -> io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut h = HashingWriter::new(io::sink());
    io::copy(&mut f, &mut h)?;
    Ok((h.bytes, hex::encode(h.hasher.finalize())))
}
