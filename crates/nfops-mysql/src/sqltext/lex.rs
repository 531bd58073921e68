//! The one SQL lexer: where quoted text and comments begin and end, read as
//! the server reads them under the `sql_mode` in force. The statement
//! splitter, the allow-list and the dump readers all use it, so what the
//! check sees is what the server runs.

/// The parts of `sql_mode` that change how text is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// `\` is a plain character inside strings (`'a\'` is a whole string).
    pub no_backslash_escapes: bool,
    /// `"` quotes a name (no backslash escapes inside), not a string.
    pub ansi_quotes: bool,
}

impl Mode {
    /// The mode a `sql_mode` value (`A,B,…`, any case) sets.
    pub fn of_sql_mode(value: &str) -> Self {
        let has = |m: &str| value.split(',').any(|p| p.trim().eq_ignore_ascii_case(m));
        // ANSI is a combination mode that includes ANSI_QUOTES.
        Self {
            no_backslash_escapes: has("NO_BACKSLASH_ESCAPES"),
            ansi_quotes: has("ANSI_QUOTES") || has("ANSI"),
        }
    }

    /// Whether `\` escapes the next byte inside text quoted with `q`.
    fn escapes(self, q: u8) -> bool {
        !self.no_backslash_escapes && (q == b'\'' || (q == b'"' && !self.ansi_quotes))
    }
}

/// The index just past the quoted text that starts at `b[i]` (a `'`, `"` or
/// `` ` ``): a doubled quote stays inside, and so does an escaped one where
/// `mode` makes `\` an escape. `None`: not terminated.
pub fn quoted_end(b: &[u8], i: usize, mode: Mode) -> Option<usize> {
    let q = *b.get(i)?;
    let esc = mode.escapes(q);
    let mut j = i + 1;
    loop {
        match *b.get(j)? {
            b'\\' if esc => j += 2,
            c if c == q && b.get(j + 1) == Some(&q) => j += 2,
            c if c == q => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// A `` `name` `` at the start of `s`, unescaped, and the bytes it used.
pub fn backticked(s: &[u8]) -> Option<(String, usize)> {
    if s.first() != Some(&b'`') {
        return None;
    }
    let end = quoted_end(s, 0, Mode::default())?;
    let name = String::from_utf8_lossy(&s[1..end - 1]).replace("``", "`");
    Some((name, end))
}

/// What starts at a byte outside quoted text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// Quoted text (string or name) up to this index.
    Quoted(usize),
    /// A comment the server ignores, up to this index.
    Comment(usize),
    /// An executable comment's opening (`/*!`, `/*!50001`, `/*M!100100`)
    /// up to this index: its content is code to the server.
    ExecOpen(usize),
    /// Anything else: one byte of code.
    Code,
}

/// What starts at `b[i]`, outside quotes. `Err`: an unterminated quote or
/// comment (the server would read it differently from a checker that
/// guessed).
pub fn piece(b: &[u8], i: usize, mode: Mode) -> Result<Piece, &'static str> {
    let to_eol = |from: usize| {
        b[from..]
            .iter()
            .position(|&x| x == b'\n')
            .map_or(b.len(), |p| from + p)
    };
    Ok(match b[i] {
        b'\'' | b'"' | b'`' => {
            Piece::Quoted(quoted_end(b, i, mode).ok_or("an unterminated quoted text")?)
        }
        b'#' => Piece::Comment(plain_comment(b, i, to_eol(i))?),
        b'-' if b.get(i + 1) == Some(&b'-')
            && matches!(b.get(i + 2), None | Some(b' ' | b'\t' | b'\n' | b'\r')) =>
        {
            Piece::Comment(plain_comment(b, i, to_eol(i))?)
        }
        b'/' if b.get(i + 1) == Some(&b'*') => {
            let exec = match (b.get(i + 2), b.get(i + 3)) {
                (Some(b'!'), _) => Some(i + 3),
                (Some(b'M'), Some(b'!')) => Some(i + 4),
                _ => None,
            };
            match exec {
                Some(mut j) => {
                    while b.get(j).is_some_and(u8::is_ascii_digit) {
                        j += 1;
                    }
                    Piece::ExecOpen(j)
                }
                None => {
                    let end = b[i + 2..]
                        .windows(2)
                        .position(|w| w == b"*/")
                        .ok_or("an unterminated comment")?;
                    Piece::Comment(plain_comment(b, i, i + 2 + end + 2)?)
                }
            }
        }
        c if is_control(c) => return Err(CONTROL),
        _ => Piece::Code,
    })
}

const CONTROL: &str = "a control character outside quoted text";

/// A control byte other than tab, line feed and carriage return. The server
/// reads some of them differently from a checker: `--` followed by any
/// control byte starts a comment, and a NUL ends a `#` or `--` comment. No
/// dump writes them outside quoted text, so they are refused, not modelled.
fn is_control(c: u8) -> bool {
    (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r')) || c == 0x7f
}

/// `end` when the comment `b[start..end]` holds no control byte.
fn plain_comment(b: &[u8], start: usize, end: usize) -> Result<usize, &'static str> {
    if b[start..end].iter().any(|&c| is_control(c)) {
        Err(CONTROL)
    } else {
        Ok(end)
    }
}

/// Byte index of the first `delimiter` outside quotes and comments (the
/// content of executable comments is code, so a delimiter there counts).
pub fn find_terminator(s: &str, delimiter: &str, mode: Mode) -> Option<usize> {
    let b = s.as_bytes();
    let d = delimiter.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match piece(b, i, mode) {
            Ok(Piece::Quoted(e) | Piece::Comment(e) | Piece::ExecOpen(e)) => i = e,
            Ok(Piece::Code) if b[i..].starts_with(d) => return Some(i),
            Ok(Piece::Code) => i += 1,
            // Unterminated: the statement goes on in the next line.
            Err(_) => return None,
        }
    }
    None
}

/// A token of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A bare word (keyword, name or number), upper-cased.
    Word(String),
    /// A quoted name (`` `x` ``, or `"x"` under ANSI_QUOTES), unescaped.
    Name(String),
    /// A string literal.
    Str,
    /// An executable comment's opening, as written (`/*!50001`).
    Exec(String),
    Punct(char),
}

impl Tok {
    /// The word, upper-cased, or "".
    pub fn word(&self) -> &str {
        match self {
            Tok::Word(w) => w,
            _ => "",
        }
    }

    /// The name a bare word or a quoted name gives (words as written in upper case).
    pub fn name(&self) -> Option<&str> {
        match self {
            Tok::Word(w) | Tok::Name(w) => Some(w),
            _ => None,
        }
    }
}

/// A statement's tokens, and how many plain comments it holds.
pub fn tokens(s: &str, mode: Mode) -> Result<(Vec<Tok>, usize), String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut comments = 0;
    let mut i = 0;
    while i < b.len() {
        match piece(b, i, mode)? {
            Piece::Quoted(e) => {
                let q = b[i];
                out.push(if q == b'`' || (q == b'"' && mode.ansi_quotes) {
                    Tok::Name(s[i + 1..e - 1].replace(
                        if q == b'`' { "``" } else { "\"\"" },
                        &(q as char).to_string(),
                    ))
                } else {
                    Tok::Str
                });
                i = e;
            }
            Piece::Comment(e) => {
                comments += 1;
                i = e;
            }
            Piece::ExecOpen(e) => {
                out.push(Tok::Exec(s[i..e].to_owned()));
                i = e;
            }
            Piece::Code => {
                let c = b[i];
                let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_' || x == b'$' || x >= 0x80;
                if c.is_ascii_whitespace() {
                    i += 1;
                } else if word(c) {
                    let start = i;
                    while b.get(i).is_some_and(|&x| word(x)) {
                        i += 1;
                    }
                    out.push(Tok::Word(s[start..i].to_ascii_uppercase()));
                } else {
                    out.push(Tok::Punct(c as char));
                    i += 1;
                }
            }
        }
    }
    Ok((out, comments))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_decides_where_a_string_ends() {
        let s = br"'a\'; GRANT ALL ON *.* TO x; #'";
        let escaping = Mode::default();
        assert_eq!(
            quoted_end(s, 0, escaping),
            Some(s.len()),
            "one string with \\ escapes"
        );
        let nbe = Mode::of_sql_mode("STRICT_TRANS_TABLES,no_backslash_escapes");
        assert_eq!(
            quoted_end(s, 0, nbe),
            Some(4),
            "'a\\' ends at the second quote"
        );
        assert_eq!(find_terminator("CREATE x '\\'; GRANT", ";", nbe), Some(12));
        assert_eq!(find_terminator("CREATE x '\\'; GRANT", ";", escaping), None);
        let ansi = Mode::of_sql_mode("ANSI");
        assert_eq!(
            quoted_end(br#""a\"b"#, 0, ansi),
            Some(4),
            "a name has no escapes"
        );
    }

    #[test]
    fn executable_comments_are_code() {
        let (t, c) = tokens(
            "SELECT 1 /*M!100100 ; GRANT */ /* x */ -- y\n",
            Mode::default(),
        )
        .expect("lexes");
        assert_eq!(c, 2);
        assert!(t.contains(&Tok::Exec("/*M!100100".into())));
        assert!(t.contains(&Tok::Word("GRANT".into())));
        assert_eq!(
            find_terminator("SELECT /*!50001 ; */", ";", Mode::default()),
            Some(16)
        );
        assert_eq!(
            find_terminator("SELECT /* ; */ 1", ";", Mode::default()),
            None
        );
        assert_eq!(backticked(b"`a``b` x"), Some(("a`b".into(), 6)));
    }
}
