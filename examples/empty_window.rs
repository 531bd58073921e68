//! The reference of `bench/app`: an empty Tauri window built like the app
//! (same crate, profile, features and Tauri version), showing one line of
//! text so its first paint can be seen. No commands, no plugins.

fn main() {
    let mut context = tauri::generate_context!();
    // Not the app's configured window (it would load the whole UI).
    context.config_mut().app.windows.clear();
    let result = tauri::Builder::default()
        .setup(|app| {
            tauri::WebviewWindowBuilder::new(
                app,
                "main",
                // One line of text from the embedded assets (ui/public), so
                // its first paint shows; data: URLs need a Tauri feature the
                // app does not build with.
                tauri::WebviewUrl::App("bench-empty.html".into()),
            )
            .title("empty")
            .inner_size(1280.0, 800.0)
            .build()?;
            Ok(())
        })
        .run(context);
    if let Err(e) = result {
        eprintln!("empty window failed: {e}");
        std::process::exit(1);
    }
}
