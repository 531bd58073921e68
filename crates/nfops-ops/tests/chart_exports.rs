//! Chart exports: checked content, safe names, no overwrite (own process:
//! it sets NFOPS_HOME).

use nfops_ops::Console;

#[tokio::test]
async fn exports_are_checked_named_safely_and_never_overwrite() {
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("environments.toml");
    std::fs::write(&config, "version = 1\n").expect("config");
    std::env::set_var("NFOPS_HOME", home.path());
    let console = Console::open(Some(&config)).await.expect("console");
    let png = b"\x89PNG\r\n\x1a\nrest";
    let a = console
        .save_chart_export("production/cpu 1h", "png", png)
        .expect("png");
    let b = console
        .save_chart_export("production/cpu 1h", "png", png)
        .expect("png again");
    assert_eq!(
        a.file_name().and_then(|n| n.to_str()),
        Some("production-cpu-1h.png"),
        "no folder from the name"
    );
    assert_eq!(
        b.file_name().and_then(|n| n.to_str()),
        Some("production-cpu-1h (2).png")
    );
    assert!(a.starts_with(home.path().join("exports")));
    assert!(
        console
            .save_chart_export("x", "png", b"<svg></svg>")
            .is_err(),
        "not a PNG"
    );
    assert!(console
        .save_chart_export("x", "svg", b"<svg viewBox=\"0 0 1 1\"></svg>")
        .is_ok());
    assert!(console.save_chart_export("x", "pdf", b"%PDF").is_err());
}
