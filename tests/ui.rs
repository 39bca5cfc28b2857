//! Compile-fail cases, one per error message, and cases that must compile and run.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui-tests/fail/*/*.rs");
    cases.pass("ui-tests/pass/*.rs");
    // What a call needs a feature for says which, where the feature is off
    // (`cargo test --no-default-features --test ui`).
    if cfg!(not(feature = "progress")) {
        cases.compile_fail("ui-tests/fail-without-features/*.rs");
    }
}
