//! The burned-in disclosure label ("Lips edited — Redub", see [`crate::model::disclosure`]):
//! white text on a dark box in a corner of the picture, drawn into RGBA or I420 frames with a
//! built-in 5×7 dot font (no font files, no text shaping: the text is fixed).

use crate::media::{Frame, PixelFormat};
use crate::model::disclosure::{Corner, LABEL_TEXT};

/// Rows of a 5×7 glyph, top to bottom; bit 4 is the leftmost dot.
fn glyph(c: char) -> [u8; 7] {
    match c {
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
        'i' => [0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e],
        'p' => [0x00, 0x00, 0x1e, 0x11, 0x1e, 0x10, 0x10],
        's' => [0x00, 0x00, 0x0f, 0x10, 0x0e, 0x01, 0x1e],
        'e' => [0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e],
        'd' => [0x01, 0x01, 0x0d, 0x13, 0x11, 0x13, 0x0d],
        't' => [0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06],
        '—' => [0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00],
        'R' => [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
        'u' => [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d],
        'b' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e],
        _ => [0; 7],
    }
}

/// Where the label goes in a `width × height` picture: `(x, y, w, h)`, all even (whole chroma
/// samples in 4:2:0), and the dot size.
pub fn label_rect(width: u32, height: u32, corner: Corner) -> (u32, u32, u32, u32, u32) {
    let chars = LABEL_TEXT.chars().count() as u32;
    // About 7/240 of the height per line of text, never wider than 60 % of the picture.
    let dot = (height / 240).min(width * 6 / 10 / (chars * 6)).max(1);
    let pad = 2 * dot;
    let even = |v: u32| v.div_ceil(2) * 2;
    let w = even(chars * 6 * dot - dot + 2 * pad).min(width & !1);
    let h = even(7 * dot + 2 * pad).min(height & !1);
    let margin = even(4 * dot);
    let x = match corner {
        Corner::TopLeft | Corner::BottomLeft => margin,
        _ => (width & !1).saturating_sub(w + margin),
    };
    let y = match corner {
        Corner::TopLeft | Corner::TopRight => margin,
        _ => (height & !1).saturating_sub(h + margin),
    };
    (x.min((width & !1) - w), y.min((height & !1) - h), w, h, dot)
}

/// Whether the label's pixel at `(px, py)` (relative to its box) is a dot of the text.
fn text_dot(px: u32, py: u32, dot: u32) -> bool {
    let pad = 2 * dot;
    let (Some(tx), Some(ty)) = (px.checked_sub(pad), py.checked_sub(pad)) else { return false };
    let (col, row) = (tx / dot, ty / dot);
    if row >= 7 {
        return false;
    }
    let (ci, gx) = (col / 6, col % 6);
    if gx == 5 {
        return false;
    }
    LABEL_TEXT.chars().nth(ci as usize).is_some_and(|c| glyph(c)[row as usize] & (0x10 >> gx) != 0)
}

/// A copy of `frame` with the label burned in at `corner`.
pub fn burn_label(frame: &Frame, corner: Corner) -> Frame {
    let mut out = frame.clone();
    let (w, h) = (frame.width, frame.height);
    if w < 4 || h < 4 {
        return out;
    }
    let (x0, y0, bw, bh, dot) = label_rect(w, h, corner);
    match &frame.format {
        PixelFormat::Rgba => {
            for y in y0..y0 + bh {
                for x in x0..x0 + bw {
                    let i = ((y * w + x) * 4) as usize;
                    let px = if text_dot(x - x0, y - y0, dot) {
                        [255, 255, 255, 255]
                    } else {
                        [24, 24, 24, 255]
                    };
                    if let Some(p) = out.data.get_mut(i..i + 4) {
                        p.copy_from_slice(&px);
                    }
                }
            }
        }
        PixelFormat::I420(caps) => {
            let layout = crate::media::yuv::I420Layout::new(w as usize, h as usize);
            let (black, white) = if caps.colorimetry.full_range { (12, 255) } else { (26, 235) };
            for y in y0..y0 + bh {
                for x in x0..x0 + bw {
                    let i = y as usize * layout.y_stride + x as usize;
                    let v = if text_dot(x - x0, y - y0, dot) { white } else { black };
                    if let Some(p) = out.data.get_mut(i) {
                        *p = v;
                    }
                }
            }
            // Neutral chroma under the box (its corners are even: whole chroma samples).
            for cy in (y0 / 2)..((y0 + bh) / 2) {
                for cx in (x0 / 2)..((x0 + bw) / 2) {
                    for plane in [layout.u_offset, layout.v_offset] {
                        if let Some(p) =
                            out.data.get_mut(plane + cy as usize * layout.c_stride + cx as usize)
                        {
                            *p = 128;
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_fits_every_corner_of_small_and_large_pictures() {
        for (w, h) in [(160, 120), (224, 224), (1920, 1080), (3840, 2160)] {
            for c in Corner::ALL {
                let (x, y, bw, bh, dot) = label_rect(w, h, c);
                assert!(x + bw <= w && y + bh <= h, "{w}x{h} {c:?}");
                assert!(x % 2 == 0 && y % 2 == 0 && bw % 2 == 0 && bh % 2 == 0);
                if w >= 224 {
                    assert!(bw <= w * 6 / 10 + 4 * dot + 2, "small: {bw} of {w}");
                }
            }
        }
        assert_eq!(label_rect(1920, 1080, Corner::BottomRight).4, 4);
    }

    #[test]
    fn the_text_has_dots_for_every_visible_character() {
        for (i, c) in LABEL_TEXT.chars().enumerate() {
            let any = (0..5)
                .any(|gx| (0..7).any(|row| text_dot(4 + (i as u32 * 6 + gx) * 2, 4 + row * 2, 2)));
            assert_eq!(any, c != ' ', "{c:?}");
        }
    }

    #[test]
    fn an_rgba_label_changes_only_its_box() {
        let f = Frame {
            index: 0,
            pts: crate::model::Time::ZERO,
            width: 320,
            height: 240,
            data: vec![128; 320 * 240 * 4],
            format: PixelFormat::Rgba,
        };
        let out = burn_label(&f, Corner::TopLeft);
        let (x0, y0, bw, bh, _) = label_rect(320, 240, Corner::TopLeft);
        let mut white = 0;
        for y in 0..240u32 {
            for x in 0..320u32 {
                let i = ((y * 320 + x) * 4) as usize;
                let inside = (x0..x0 + bw).contains(&x) && (y0..y0 + bh).contains(&y);
                if !inside {
                    assert_eq!(&out.data[i..i + 4], &f.data[i..i + 4]);
                } else if out.data[i] == 255 {
                    white += 1;
                }
            }
        }
        assert!(white > 100, "{white} text pixels");
    }
}
