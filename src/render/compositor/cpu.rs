//! The CPU compositor, the reference of the GPU one ([`super::gpu`]): warp a canonical patch
//! onto the frame and blend it through a soft alpha. Pixels where alpha is 0 are never written,
//! so everything outside the mask stays bit-identical to the source.

use crate::analysis::mouth_patch::{Patch, Similarity, dims_of};
use wide::f32x4;

/// `v.floor()` for |v| < 2³¹ without a libm call (the baseline x86-64 target has no rounding
/// instruction, so `floor` is a function call per pixel); NaN gives 0.
#[inline]
fn floor_fast(v: f32) -> f32 {
    let t = v as i32 as f32;
    // Branch-free (a data-dependent branch here mispredicts on every other pixel).
    t - f32::from(u8::from(t > v))
}

/// The patch pixels `u0..=u1` × `v0..=v1` holding every non-zero `alpha` (`None` when all are
/// zero): the compositor never writes outside their footprint.
fn alpha_bounds(alpha: &[f32], pw: usize) -> Option<(usize, usize, usize, usize)> {
    let mut out: Option<(usize, usize, usize, usize)> = None;
    for (v, row) in alpha.chunks_exact(pw).enumerate() {
        let Some(first) = row.iter().position(|&a| a != 0.0) else { continue };
        let last = row.iter().rposition(|&a| a != 0.0).unwrap_or(first);
        out = Some(match out {
            None => (first, last, v, v),
            Some((a, b, c, _)) => (a.min(first), b.max(last), c, v),
        });
    }
    out
}

/// The frame-pixel box `(x0, y0, x1, y1)` (inclusive, unclipped) outside which [`composite`]
/// of a patch of `patch_len` pixels through `alpha` writes nothing: the masked pixels' footprint
/// grown by one patch pixel (a bilinear tap reaches one pixel), mapped by `to_image`. `None`
/// when every alpha is zero.
pub fn footprint(
    patch_len: usize,
    alpha: &[f32],
    to_image: &Similarity,
) -> Option<(f32, f32, f32, f32)> {
    Some(bounds_footprint(alpha_bounds(alpha, dims_of(patch_len).0)?, to_image))
}

/// [`footprint`] of the masked patch pixels `(ua, ub, va, vb)` ([`alpha_bounds`]).
fn bounds_footprint(
    (ua, ub, va, vb): (usize, usize, usize, usize),
    to_image: &Similarity,
) -> (f32, f32, f32, f32) {
    let (fa, fb, fc, fd) = (ua as f32 - 1.0, ub as f32 + 1.0, va as f32 - 1.0, vb as f32 + 1.0);
    let corners = [[fa, fc], [fb, fc], [fa, fd], [fb, fd]].map(|p| to_image.apply(p));
    let (xs, ys) = (corners.map(|p| p[0]), corners.map(|p| p[1]));
    (
        xs.iter().copied().fold(f32::MAX, f32::min),
        ys.iter().copied().fold(f32::MAX, f32::min),
        xs.iter().copied().fold(f32::MIN, f32::max),
        ys.iter().copied().fold(f32::MIN, f32::max),
    )
}

/// Blends `patch` (in patch pixels) onto an RGBA frame through `alpha` (patch pixels, 0..1),
/// with `to_image` mapping patch pixels to frame pixels. The patch may have any detail (see
/// [`crate::analysis::mouth_patch::detail_dims`]); `alpha` has as many pixels.
pub fn composite(
    frame: &mut [u8],
    width: usize,
    height: usize,
    patch: &Patch,
    alpha: &[f32],
    to_image: &Similarity,
) {
    let dims = dims_of(patch.rgb.len());
    if alpha.len() < patch.rgb.len() {
        return;
    }
    // Only frame pixels whose bilinear taps reach a non-zero alpha can change (see
    // [`footprint`]).
    let Some((ua, ub, va, vb)) = alpha_bounds(alpha, dims.0) else { return };
    let (xa, ya, xb, yb) = bounds_footprint((ua, ub, va, vb), to_image);
    let x0 = xa.floor().max(0.0) as usize;
    let y0 = ya.floor().max(0.0) as usize;
    let x1 = (xb.ceil().max(0.0) as usize + 1).min(width);
    let y1 = (yb.ceil().max(0.0) as usize + 1).min(height);
    // The patch premultiplied by its alpha over that footprint grown by one pixel on every
    // side (a transparent border): each bilinear tap that can reach a non-zero alpha reads a
    // pixel of it, and a sample whose taps all fall outside it has alpha 0.
    let pw = dims.0;
    let (ox, oy) = (ua as isize - 1, va as isize - 1);
    let (sw, sh) = (ub as isize + 2 - ox, vb as isize + 2 - oy);
    let mut taps = vec![f32x4::ZERO; (sw * sh) as usize];
    for v in va..=vb {
        let row = &mut taps[((v as isize - oy) * sw) as usize..][..sw as usize];
        for u in ua..=ub {
            let i = v * pw + u;
            let (c, a) = (patch.rgb[i], alpha[i]);
            row[(u as isize - ox) as usize] = f32x4::new([c[0] * a, c[1] * a, c[2] * a, a]);
        }
    }
    let to_patch = to_image.inverse();
    // Samples at u in [ox, ox + sw − 1) and v in [oy, oy + sh − 1) have their four taps inside.
    let (ulo, uhi) = (ox as f32, (ox + sw - 1) as f32);
    let (vlo, vhi) = (oy as f32, (oy + sh - 1) as f32);
    for y in y0..y1 {
        // Along the row u = du·x + u_at0 and v = dv·x + v_at0: the columns whose samples can
        // land inside, found once per row (widened by a pixel; each pixel is still checked).
        let yf = y as f32;
        let (du, u_at0) = (to_patch.a, -to_patch.b * yf + to_patch.tx);
        let (dv, v_at0) = (to_patch.b, to_patch.a * yf + to_patch.ty);
        let (mut xa, mut xb) = (x0 as f32, x1 as f32);
        for (d, at0, lo, hi) in [(du, u_at0, ulo, uhi), (dv, v_at0, vlo, vhi)] {
            if d.abs() < 1e-6 {
                if at0 < lo || at0 >= hi {
                    xb = xa;
                }
            } else {
                let (p, q) = ((lo - at0) / d, (hi - at0) / d);
                xa = xa.max(p.min(q) - 1.0);
                xb = xb.min(p.max(q) + 1.0);
            }
        }
        if xb <= xa {
            continue;
        }
        let (xs, xe) = ((xa.max(0.0) as usize).max(x0), (xb.ceil().max(0.0) as usize).min(x1));
        let row = &mut frame[y * width * 4..(y + 1) * width * 4];
        for x in xs..xe {
            let p = to_patch.apply([x as f32, yf]);
            let (u0, v0) = (floor_fast(p[0]), floor_fast(p[1]));
            let (fu, fv) = (p[0] - u0, p[1] - v0);
            let (cu, cv) = (u0 as isize - ox, v0 as isize - oy);
            if cu < 0 || cv < 0 || cu + 1 >= sw || cv + 1 >= sh {
                continue;
            }
            let i = (cv * sw + cu) as usize;
            let j = i + sw as usize;
            let (Some(top), Some(bottom)) = (taps.get(i..i + 2), taps.get(j..j + 2)) else {
                continue;
            };
            let (w00, w10) = ((1.0 - fu) * (1.0 - fv), fu * (1.0 - fv));
            let (w01, w11) = ((1.0 - fu) * fv, fu * fv);
            let acc = top[0] * f32x4::splat(w00)
                + top[1] * f32x4::splat(w10)
                + bottom[0] * f32x4::splat(w01)
                + bottom[1] * f32x4::splat(w11);
            let a = acc.as_array_ref()[3];
            if a <= 0.0 {
                continue;
            }
            let Some(px) = row.get_mut(x * 4..x * 4 + 4) else { continue };
            // src + (colour − src) · min(a, 1), the colour being acc / a; rounded half up.
            let (keep, scale) = if a <= 1.0 { (1.0 - a, 1.0) } else { (0.0, 1.0 / a) };
            let src = f32x4::new([f32::from(px[0]), f32::from(px[1]), f32::from(px[2]), 0.0]);
            let out = (src * f32x4::splat(keep) + acc * f32x4::splat(scale))
                .fast_max(f32x4::ZERO)
                .fast_min(f32x4::splat(255.0))
                + f32x4::splat(0.5);
            let out = out.fast_trunc_int().to_array();
            for c in 0..3 {
                // 0..=255 after the clamp.
                px[c] = out[c] as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::mouth_patch::{
        PATCH_H, PATCH_W, Region, canonical, extract_patch, patch_to_image, region_mask,
    };
    /// A small deterministic generator (xorshift) for the equivalence tests below.
    fn noise(seed: u64) -> impl FnMut() -> f32 {
        let mut x = seed.max(1);
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32
        }
    }

    #[test]
    fn composite_touches_only_masked_pixels_and_round_trips_the_face() {
        let (w, h) = (200usize, 200usize);
        let mut frame = vec![0u8; w * h * 4];
        for (i, px) in frame.chunks_exact_mut(4).enumerate() {
            px.copy_from_slice(&[(i % 251) as u8, (i % 13 * 19) as u8, (i / w) as u8, 255]);
        }
        let original = frame.clone();
        let lm = canonical().map(|p| [p[0] * 1.2 + 10.0, p[1] * 1.2 - 30.0]);
        let mask = region_mask(Region::LipsJaw, 6.0);
        // Pasting the frame's own patch back changes (almost) nothing.
        let own = extract_patch(&frame, w, h, &lm).unwrap();
        let to_image = patch_to_image(&lm).unwrap();
        composite(&mut frame, w, h, &own, &mask, &to_image);
        let changed = frame.iter().zip(&original).filter(|(a, b)| a != b).count();
        assert!(changed > 0);
        // A flat white patch: pixels with zero alpha are identical.
        let white = Patch { rgb: vec![[255.0; 3]; PATCH_W * PATCH_H] };
        let mut f2 = original.clone();
        composite(&mut f2, w, h, &white, &mask, &to_image);
        let to_patch = to_image.inverse();
        for y in 0..h {
            for x in 0..w {
                let p = to_patch.apply([x as f32, y as f32]);
                let inside =
                    p[0] > -1.0 && p[1] > -1.0 && p[0] < PATCH_W as f32 && p[1] < PATCH_H as f32;
                let o = (y * w + x) * 4;
                if !inside {
                    assert_eq!(
                        &f2[o..o + 4],
                        &original[o..o + 4],
                        "({x},{y}) outside the patch changed"
                    );
                }
            }
        }
        let centre = to_image.apply([64.0, 45.0]);
        let o = (centre[1] as usize * w + centre[0] as usize) * 4;
        assert_eq!(&f2[o..o + 3], &[255, 255, 255]);
    }

    /// The compositor as it was written before the fast paths (every tap tested, libm floor and
    /// round, the whole patch footprint visited, colour divided by alpha): the reference the
    /// fast one (premultiplied, SIMD, per-row spans) must match to rounding.
    #[allow(clippy::needless_range_loop)] // kept as first written
    fn composite_reference(
        frame: &mut [u8],
        width: usize,
        height: usize,
        patch: &Patch,
        alpha: &[f32],
        to_image: &Similarity,
    ) {
        let dims = dims_of(patch.rgb.len());
        let (pw, ph) = (dims.0 as f32, dims.1 as f32);
        let corners = [[-1.0, -1.0], [pw, -1.0], [-1.0, ph], [pw, ph]].map(|p| to_image.apply(p));
        let x0 = corners.iter().map(|p| p[0]).fold(f32::MAX, f32::min).floor().max(0.0) as usize;
        let y0 = corners.iter().map(|p| p[1]).fold(f32::MAX, f32::min).floor().max(0.0) as usize;
        let x1 = (corners.iter().map(|p| p[0]).fold(f32::MIN, f32::max).ceil().max(0.0) as usize
            + 1)
        .min(width);
        let y1 = (corners.iter().map(|p| p[1]).fold(f32::MIN, f32::max).ceil().max(0.0) as usize
            + 1)
        .min(height);
        let to_patch = to_image.inverse();
        for y in y0..y1 {
            for x in x0..x1 {
                let p = to_patch.apply([x as f32, y as f32]);
                let (u, v) = (p[0], p[1]);
                let (u0, v0) = (u.floor(), v.floor());
                let (fu, fv) = (u - u0, v - v0);
                let (u0, v0) = (u0 as isize, v0 as isize);
                let mut rgb = [0.0f32; 3];
                let mut a = 0.0f32;
                for (du, dv, w) in [
                    (0, 0, (1.0 - fu) * (1.0 - fv)),
                    (1, 0, fu * (1.0 - fv)),
                    (0, 1, (1.0 - fu) * fv),
                    (1, 1, fu * fv),
                ] {
                    let (uu, vv) = (u0 + du, v0 + dv);
                    if uu < 0
                        || vv < 0
                        || uu >= dims.0 as isize
                        || vv >= dims.1 as isize
                        || w == 0.0
                    {
                        continue;
                    }
                    let i = vv as usize * dims.0 + uu as usize;
                    a += w * alpha[i];
                    for c in 0..3 {
                        rgb[c] += w * alpha[i] * patch.rgb[i][c];
                    }
                }
                if a > 0.0 {
                    for c in &mut rgb {
                        *c /= a;
                    }
                }
                if a <= 0.0 {
                    continue;
                }
                let a = a.min(1.0);
                let o = (y * width + x) * 4;
                for c in 0..3 {
                    let src = f32::from(frame[o + c]);
                    frame[o + c] = (src + (rgb[c] - src) * a).round().clamp(0.0, 255.0) as u8;
                }
            }
        }
    }

    #[test]
    fn fast_composite_matches_the_reference_to_rounding() {
        let mut rnd = noise(7);
        let (w, h) = (300usize, 260usize);
        for (case, detail) in [1usize, 2, 1, 2, 2].into_iter().enumerate() {
            let frame: Vec<u8> = (0..w * h * 4).map(|_| (rnd() * 256.0) as u8).collect();
            let (pw, ph) = crate::analysis::mouth_patch::detail_dims(detail);
            let patch = Patch {
                rgb: (0..pw * ph)
                    .map(|_| [rnd() * 300.0 - 20.0, rnd() * 255.0, rnd() * 255.0])
                    .collect(),
            };
            // A feathered region with exact zeros around it, random strength, and holes.
            let region = crate::analysis::mouth_patch::region_mask_at(Region::LipsJaw, 6.0, detail);
            let alpha: Vec<f32> =
                region.iter().map(|m| if rnd() < 0.1 { 0.0 } else { m * (0.3 + rnd()) }).collect();
            // Scales from shrinking to enlarging, rotated, placed partly off the frame in the
            // last case (edge taps and clipping).
            let scale = 0.6 + 0.5 * case as f32;
            let angle = 0.3 * rnd() - 0.15;
            let off = if case == 4 { -60.0 } else { 20.0 };
            let to_image = Similarity {
                a: scale * angle.cos() / detail as f32,
                b: scale * angle.sin() / detail as f32,
                tx: off + 10.0 * rnd(),
                ty: 15.0 + 10.0 * rnd(),
            };
            let (mut fast, mut slow) = (frame.clone(), frame.clone());
            composite(&mut fast, w, h, &patch, &alpha, &to_image);
            composite_reference(&mut slow, w, h, &patch, &alpha, &to_image);
            assert!(fast != frame, "case {case}: something was drawn");
            // Each pixel within one level (colour premultiplied instead of divided, halves
            // rounded up), rarely off at all.
            let (mut drawn, mut off) = (0usize, 0usize);
            for ((f, s), o) in fast.chunks(4).zip(slow.chunks(4)).zip(frame.chunks(4)) {
                drawn += usize::from(s != o);
                let d = f.iter().zip(s).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
                assert!(d <= 1, "case {case}: {f:?} vs {s:?}");
                off += usize::from(d > 0);
            }
            assert!(off * 50 < drawn, "case {case}: {off} of {drawn} pixels off by a level");
        }
        // The helpers themselves, on values around the integers and halves.
        for k in -400..400 {
            for d in [0.0f32, 1e-6, 0.25, 0.4999999, 0.5, 0.5000001, 0.75, 0.9999999] {
                let v = k as f32 * 0.5 + d;
                assert_eq!(floor_fast(v), v.floor(), "{v}");
            }
        }
    }
}
