//! Helpers for the reliability tests (`tests/rel_*.rs`): find pieces of a secret in any text,
//! and size property tests. Running the binaries is in `support::common`.

/// Every `width`-character piece of `secret` (whitespace removed), every `step` characters.
pub fn pieces(secret: &str, width: usize, step: usize) -> Vec<String> {
    let compact: Vec<char> = secret.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() <= width {
        return vec![compact.iter().collect()];
    }
    (0..=compact.len() - width)
        .step_by(step)
        .map(|i| compact[i..i + width].iter().collect())
        .collect()
}

/// The first piece found in `text` (whitespace removed, so that wrapped reports are searched
/// too), if any.
pub fn leaked<'a>(text: &str, pieces: &'a [String]) -> Option<&'a str> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    pieces
        .iter()
        .find(|p| compact.contains(p.as_str()))
        .map(String::as_str)
}

/// The base64 body of a PEM block (the lines between BEGIN and END, joined).
pub fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// Property-test cases: `PROPTEST_CASES` when set (for long runs), else `default` (quick CI).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
