//! Human or JSON output, chosen once by `--json`.

use std::io::{IsTerminal, Write};

use serde::Serialize;

pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Whether progress spinners may be drawn (a terminal, not JSON).
    pub fn interactive(&self) -> bool {
        !self.json && std::io::stderr().is_terminal()
    }

    /// Prints `value` as JSON, or calls `human` to print it for people.
    pub fn emit<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let _ = if self.json {
            serde_json::to_writer_pretty(&mut lock, value)
                .map_err(std::io::Error::other)
                .and_then(|_| writeln!(lock))
        } else {
            human(&mut lock)
        };
    }

    /// Reports an error: `{ "error": {code, message, hint} }` on stdout with
    /// `--json`, else a readable message on stderr.
    pub fn error(&self, e: &nfops_core::Error) {
        if self.json {
            println!("{}", serde_json::json!({ "error": e.to_wire() }));
        } else {
            eprintln!("error[{}]: {}", e.code(), e.message());
            if let Some(h) = e.hint_text() {
                eprintln!("  hint: {h}");
            }
        }
    }
}
