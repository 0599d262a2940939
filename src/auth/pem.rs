//! A forgiving PEM reader that says what is wrong with damaged PEM text.
//!
//! Strict readers answer "invalid PEM" for a hand-edited label, stray indentation or a truncated
//! copy. This one tolerates what is harmless (indentation, CRLF, `EC PARAMETERS` blocks before the
//! key) and describes the rest precisely, so the caller can name the problem.

use base64::Engine;
use zeroize::Zeroizing;

/// One decoded PEM block: its label (as written) and the DER inside.
pub(crate) struct PemBlock {
    pub label: String,
    pub der: Zeroizing<Vec<u8>>,
}

/// What went wrong reading PEM text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PemError {
    /// A BEGIN line without the closing dashes, or no BEGIN line at all.
    NoBegin,
    /// No END line for the block.
    NoEnd { label: String },
    /// BEGIN and END labels differ.
    LabelMismatch { begin: String, end: String },
    /// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`): a passphrase-encrypted legacy key.
    Encrypted,
    /// The body is not base64.
    BadBase64 { label: String },
    /// Nothing between BEGIN and END.
    Empty { label: String },
    /// Text follows the BEGIN line's closing dashes: the line breaks were lost.
    OneLine { label: String },
}

impl std::fmt::Display for PemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PemError::NoBegin => f.write_str("no complete -----BEGIN ...----- line"),
            PemError::NoEnd { label } => {
                let label = shown_label(label);
                write!(f, "no -----END {label}----- line: the copy looks truncated")
            }
            PemError::LabelMismatch { begin, end } => {
                let (begin, end) = (shown_label(begin), shown_label(end));
                write!(
                    f,
                    "the BEGIN line says \"{begin}\" but the END line says \"{end}\""
                )
            }
            PemError::Encrypted => f.write_str(
                "it is encrypted with a passphrase (Proc-Type: 4,ENCRYPTED); decrypt it first",
            ),
            PemError::BadBase64 { label } => {
                let label = shown_label(label);
                write!(
                    f,
                    "the base64 between BEGIN {label} and END {label} is damaged (characters changed, \
                 added or cut)"
                )
            }
            PemError::Empty { label } => {
                write!(f, "nothing between BEGIN {} and END", shown_label(label))
            }
            PemError::OneLine { label } => write!(
                f,
                "the key is on one line after -----BEGIN {}-----: its line breaks were lost \
                 (replaced by spaces, or joined when pasted); the BEGIN line, each base64 line \
                 and the END line must be lines of their own",
                shown_label(label)
            ),
        }
    }
}

/// Label of a `-----BEGIN X-----` or `-----END X-----` line, if `line` is one, and whatever
/// follows its closing dashes on the same line (empty in a well-formed block).
fn boundary<'a>(line: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let rest = line.strip_prefix("-----")?.strip_prefix(kind)?;
    let rest = rest.strip_prefix(' ')?;
    let close = rest.find("-----")?;
    Some((&rest[..close], rest[close + 5..].trim()))
}

/// A PEM label as it may be shown in a message: labels are a few short words (`EC PRIVATE KEY`,
/// `ECDSA Private Key`); anything else may be key material pasted into the line, which must never
/// be echoed.
pub(crate) fn shown_label(label: &str) -> &str {
    let plain = label.len() <= 48
        && label.split_whitespace().all(|word| word.len() <= 16)
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '#' || c == '.');
    if plain {
        label
    } else {
        "(a label that is not plain words)"
    }
}

/// Reads the first key block of `text`, skipping `EC PARAMETERS` blocks (OpenSSL writes one before
/// the key with `ecparam -genkey`).
pub(crate) fn read_first_block(text: &str) -> Result<PemBlock, PemError> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut index = 0;
    loop {
        let begin_at = lines[index..]
            .iter()
            .position(|l| boundary(l, "BEGIN").is_some())
            .map(|p| p + index)
            .ok_or(PemError::NoBegin)?;
        let (label, trailing) = boundary(lines[begin_at], "BEGIN").unwrap_or_default();
        let label = label.to_string();
        if !trailing.is_empty() {
            return Err(PemError::OneLine { label });
        }
        let end_at = lines[begin_at + 1..]
            .iter()
            .position(|l| l.starts_with("-----END"))
            .map(|p| p + begin_at + 1)
            .ok_or_else(|| PemError::NoEnd {
                label: label.clone(),
            })?;
        let end_label = boundary(lines[end_at], "END").map_or(lines[end_at], |(l, _)| l);
        if end_label != label {
            return Err(PemError::LabelMismatch {
                begin: label,
                end: end_label.to_string(),
            });
        }
        if label == "EC PARAMETERS" {
            index = end_at + 1;
            continue;
        }
        let body_lines = &lines[begin_at + 1..end_at];
        if body_lines.iter().any(|l| l.contains(':')) {
            return Err(PemError::Encrypted);
        }
        let body: Zeroizing<String> = Zeroizing::new(body_lines.concat());
        if body.is_empty() {
            return Err(PemError::Empty { label });
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PemError::BadBase64 {
                label: label.clone(),
            })?;
        return Ok(PemBlock {
            label,
            der: Zeroizing::new(der),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_indented_crlf_block_after_ec_parameters() {
        let text = "-----BEGIN EC PARAMETERS-----\r\nBggqhkjOPQMBBw==\r\n-----END EC PARAMETERS-----\r\n  -----BEGIN EC PRIVATE KEY-----\r\n  AAEC\r\n  -----END EC PRIVATE KEY-----\r\n";
        let block = read_first_block(text).unwrap();
        assert_eq!(block.label, "EC PRIVATE KEY");
        assert_eq!(&block.der[..], &[0u8, 1, 2]);
    }

    #[test]
    fn names_each_kind_of_damage() {
        assert_eq!(read_first_block("hello").err(), Some(PemError::NoBegin));
        assert!(matches!(
            read_first_block("-----BEGIN PRIVATE KEY-----\nAAEC\n"),
            Err(PemError::NoEnd { .. })
        ));
        assert!(matches!(
            read_first_block("-----BEGIN PRIVATE KEY-----\nAAEC\n-----END EC PRIVATE KEY-----"),
            Err(PemError::LabelMismatch { .. })
        ));
        assert!(matches!(
            read_first_block("-----BEGIN PRIVATE KEY-----\nAA*C\n-----END PRIVATE KEY-----"),
            Err(PemError::BadBase64 { .. })
        ));
        assert_eq!(
            read_first_block(
                "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAEC\n-----END EC PRIVATE KEY-----"
            )
            .err(),
            Some(PemError::Encrypted)
        );
    }
}
