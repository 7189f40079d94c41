//! Buffered standard output for data, written in large blocks straight to
//! file descriptor 1 (Rust's `Stdout` flushes per line).

use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;

/// Output is flushed when this much is buffered.
const FLUSH_AT: usize = 64 * 1024;

/// Buffered data output. A closed pipe surfaces as
/// `io::ErrorKind::BrokenPipe`, which the CLI turns into a quiet exit 0.
pub struct Out {
    buf: Vec<u8>,
    sink: Sink,
}

enum Sink {
    /// fd 1, never closed by us.
    Stdout(ManuallyDrop<File>),
    /// A file we own.
    File(File),
}

impl Sink {
    fn file(&mut self) -> &mut File {
        match self {
            Sink::Stdout(f) => f,
            Sink::File(f) => f,
        }
    }
}

impl Out {
    /// Standard output.
    pub fn stdout() -> Out {
        // SAFETY: fd 1 stays open for the life of the process; ManuallyDrop
        // keeps this File from closing it.
        let file = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
        Out::new(Sink::Stdout(file))
    }

    /// A file opened by the caller (closed when `Out` is dropped).
    pub fn to_file(file: File) -> Out {
        Out::new(Sink::File(file))
    }

    fn new(sink: Sink) -> Out {
        Out {
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            sink,
        }
    }

    /// The buffer to append to; call [`Out::line_done`] after each record.
    #[inline]
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Ends a record with a newline and flushes if the buffer is full.
    ///
    /// # Errors
    ///
    /// When writing fails; a closed pipe is reported as such, so a caller can
    /// stop quietly.
    #[inline]
    pub fn line_done(&mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Whether anything is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Writes everything buffered.
    ///
    /// # Errors
    ///
    /// When writing fails; a closed pipe is reported as such, so a caller can
    /// stop quietly.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let r = self.sink.file().write_all(&self.buf);
            self.buf.clear();
            r?;
        }
        Ok(())
    }

    /// Flushes, then writes to `file` from now on (log rotation).
    ///
    /// # Errors
    ///
    /// When writing fails; a closed pipe is reported as such, so a caller can
    /// stop quietly.
    pub fn switch_to(&mut self, file: File) -> io::Result<()> {
        self.flush()?;
        self.sink = Sink::File(file);
        Ok(())
    }
}
