//! The reference of `bench/app`: an empty Tauri window showing one line of
//! text (dist/index.html) so its first paint can be seen. No commands, no
//! plugins, no state.

fn main() {
    let result = tauri::Builder::default().run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("empty window failed: {e}");
        std::process::exit(1);
    }
}
