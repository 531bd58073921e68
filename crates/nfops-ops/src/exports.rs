//! Chart exports for incident reports: an SVG (as rendered) or a PNG (as the
//! desktop's webview rasterised it) written to the exports folder.
//!
//! PNG rasterising stays in the webview, which already has fonts and an SVG
//! renderer: no rasteriser crate in the domain or the CLI (whose `--out`
//! writes SVG).

use std::path::PathBuf;

use nfops_core::{Error, ErrorCode, Result};

use crate::Console;

/// Largest export accepted (a 4K PNG of a chart is far below this).
const MAX_BYTES: usize = 32 << 20;

impl Console {
    /// Where exports go: `$NFOPS_HOME/exports` when `NFOPS_HOME` is set,
    /// else the user's Downloads folder, else `exports` next to the state.
    pub fn exports_dir(&self) -> PathBuf {
        if let Some(home) = std::env::var_os("NFOPS_HOME") {
            return PathBuf::from(home).join("exports");
        }
        directories::UserDirs::new()
            .and_then(|u| u.download_dir().map(|d| d.to_path_buf()))
            .unwrap_or_else(|| self.paths().state_dir.join("exports"))
    }

    /// Writes `data` as `<name>.<format>` (format `svg` or `png`) into
    /// [`Console::exports_dir`], never overwriting: a taken name gets ` (2)`, ...
    /// Returns the file written.
    ///
    /// Errors: `input.invalid` for another format, content that is not that
    /// format, or more than 32 MiB; `io.error` when the file cannot be written.
    pub fn save_chart_export(&self, name: &str, format: &str, data: &[u8]) -> Result<PathBuf> {
        let valid = match format {
            "png" => data.starts_with(b"\x89PNG\r\n\x1a\n"),
            "svg" => std::str::from_utf8(data).is_ok_and(|s| {
                s.trim_start().starts_with("<svg") && s.trim_end().ends_with("</svg>")
            }),
            _ => {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("cannot export as '{format}'"),
                )
                .hint("Export as svg or png."))
            }
        };
        if !valid || data.len() > MAX_BYTES {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "the chart export is not a {} file of at most 32 MiB",
                    format.to_uppercase()
                ),
            ));
        }
        let stem: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .trim_matches(|c| c == '.' || c == '-')
            .chars()
            .take(100)
            .collect();
        let stem = if stem.is_empty() {
            "chart".to_owned()
        } else {
            stem
        };
        let dir = self.exports_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        for n in 1..1000 {
            let file = if n == 1 {
                dir.join(format!("{stem}.{format}"))
            } else {
                dir.join(format!("{stem} ({n}).{format}"))
            };
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&file)
            {
                Ok(mut f) => {
                    use std::io::Write;
                    f.write_all(data)
                        .map_err(|e| Error::io(format!("cannot write {}", file.display()), e))?;
                    tracing::info!(category = "application", file = %file.display(), "chart exported");
                    return Ok(file);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(format!("cannot write {}", file.display()), e)),
            }
        }
        Err(Error::new(
            ErrorCode::Io,
            format!("too many exports named {stem} in {}", dir.display()),
        ))
    }
}
