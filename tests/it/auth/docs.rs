//! docs/auth.md documents exactly the problem codes cbbook reports, with their severities.
// Test code: a failed unwrap is a failed test, with its location.

use cbbook::auth::problems::ALL_CODES;

#[test]
fn every_problem_code_is_documented_with_its_severity() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/auth.md")).unwrap();
    let documented: Vec<(String, String)> = doc
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let code = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
            let severity = cells.get(1)?.trim();
            matches!(severity, "error" | "warning")
                .then(|| (code.to_string(), severity.to_string()))
        })
        .collect();
    let mut expected: Vec<(String, String)> = ALL_CODES
        .iter()
        .map(|c| (c.name.to_string(), c.severity.as_str().to_string()))
        .collect();
    let mut got = documented.clone();
    expected.sort();
    got.sort();
    assert_eq!(
        got, expected,
        "docs/auth.md problem tables differ from the code catalogue"
    );
}
