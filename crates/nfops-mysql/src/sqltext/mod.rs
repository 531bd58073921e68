//! SQL text: the one lexer ([`lex`]) and the statement splitter ([`split`])
//! that the allow-list, the loaders and the dump readers share, so that what
//! is checked is read the way the server reads it.

pub mod lex;
pub mod split;

pub use lex::{Mode, Tok};
pub use split::{statements, statements_at, Statement};
