//! The object lines of a restore plan as the CLI prints them: the backup's
//! inventory, owner changes and objects the restore would lose.

use std::io::Write;

/// Writes the plan's object lines (`inventory`, `owner_changes`,
/// `objects_lost` of the restore plan); nothing for an empty section.
pub fn write_object_lines(
    w: &mut dyn Write,
    inventory: &[String],
    owner_changes: &[String],
    lost: &[String],
) -> std::io::Result<()> {
    for (title, lines) in [
        ("objects (from the backup's inventory):", inventory),
        (
            "owners that would change (the restoring account may not set them):",
            owner_changes,
        ),
        ("objects this restore would lose:", lost),
    ] {
        if lines.is_empty() {
            continue;
        }
        writeln!(w, "{title}")?;
        for l in lines {
            writeln!(w, "  {l}")?;
        }
    }
    Ok(())
}
