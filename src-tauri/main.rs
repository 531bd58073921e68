// Prevents an extra console window on Windows in release.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // One rustls crypto provider for the whole process (HTTP clients, updater).
    nfops_core::http::install_crypto_provider();
    nfops_desktop::run();
}
