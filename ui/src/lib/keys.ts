// The console's keyboard shortcuts, in one place: the handler in App.svelte
// and the list in Settings → Keyboard both read SHORTCUTS.

export const SHORTCUTS: readonly { keys: string; does: string }[] = [
  { keys: "Ctrl+K (⌘K on macOS)", does: "Open the command palette: any page, environment, backup or action" },
  { keys: "↑ / ↓, Enter", does: "In the palette: move, then go" },
  { keys: "Esc", does: "Close the palette or a confirmation dialog; the focus returns where it was" },
  { keys: "Tab / Shift+Tab", does: "Move between controls; the focused one is outlined" },
  { keys: "Enter / Space", does: "Press the focused button; actions are never run by the palette itself" },
];

/** Ctrl+K, or Cmd+K on macOS (either works everywhere). */
export function isPaletteKey(e: KeyboardEvent): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "k";
}

/**
 * Puts the keyboard focus on the first element matching `selector` once the
 * page has drawn it (pages load their data first), scrolled into view; gives
 * up quietly after `ms`. An element that is not focusable by itself (a table
 * row) is made focusable by script only (tabindex -1).
 */
export function focusWhenShown(selector: string, ms = 5000): void {
  const until = Date.now() + ms;
  const attempt = () => {
    const el = document.querySelector<HTMLElement>(selector);
    // A button still disabled (its page is loading) is waited for.
    if (el && !(el as HTMLButtonElement).disabled) {
      if (el.tabIndex < 0 && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
      el.scrollIntoView?.({ block: "center" });
      el.focus();
      return;
    }
    if (Date.now() < until) setTimeout(attempt, 50);
  };
  setTimeout(attempt, 0);
}
