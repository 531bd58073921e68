//! The charts' two themes: background, text, grid and line colours.

use plotters::style::RGBColor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl Theme {
    /// `light` or `dark`; anything else is light.
    pub fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("dark") {
            Theme::Dark
        } else {
            Theme::Light
        }
    }

    pub(crate) fn background(self) -> RGBColor {
        match self {
            Theme::Light => RGBColor(0xff, 0xff, 0xff),
            Theme::Dark => RGBColor(0x1b, 0x1f, 0x27),
        }
    }

    pub(crate) fn text(self) -> RGBColor {
        match self {
            Theme::Light => RGBColor(0x37, 0x41, 0x51),
            Theme::Dark => RGBColor(0xd1, 0xd5, 0xdb),
        }
    }

    pub(crate) fn grid(self) -> RGBColor {
        match self {
            Theme::Light => RGBColor(0xe5, 0xe7, 0xeb),
            Theme::Dark => RGBColor(0x33, 0x3a, 0x46),
        }
    }

    /// Line colours, distinguishable on this theme's background.
    pub(crate) fn palette(self) -> &'static [RGBColor] {
        const LIGHT: &[RGBColor] = &[
            RGBColor(0x25, 0x63, 0xeb),
            RGBColor(0xdc, 0x26, 0x26),
            RGBColor(0x16, 0xa3, 0x4a),
            RGBColor(0xd9, 0x77, 0x06),
            RGBColor(0x7c, 0x3a, 0xed),
            RGBColor(0x08, 0x91, 0xb2),
            RGBColor(0xdb, 0x27, 0x77),
            RGBColor(0x4b, 0x55, 0x63),
        ];
        const DARK: &[RGBColor] = &[
            RGBColor(0x60, 0xa5, 0xfa),
            RGBColor(0xf8, 0x71, 0x71),
            RGBColor(0x4a, 0xde, 0x80),
            RGBColor(0xfb, 0xbf, 0x24),
            RGBColor(0xa7, 0x8b, 0xfa),
            RGBColor(0x22, 0xd3, 0xee),
            RGBColor(0xf4, 0x72, 0xb6),
            RGBColor(0x9c, 0xa3, 0xaf),
        ];
        match self {
            Theme::Light => LIGHT,
            Theme::Dark => DARK,
        }
    }

    /// `#rrggbb` of series `i`'s colour.
    pub fn series_color(self, i: usize) -> String {
        let p = self.palette();
        let RGBColor(r, g, b) = p[i % p.len()];
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}
