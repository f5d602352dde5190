// Lip-patch compositor: for each frame pixel, map into patch space, take the 4-tap bilinear
// of the alpha-premultiplied patch (taps outside the patch count as empty), and blend. The same
// maths as the CPU reference in src/lipsync/render.rs, so the two agree to rounding.

struct Params {
    // Frame pixel -> patch pixel similarity: u = a x - b y + tx, v = b x + a y + ty.
    inv: vec4<f32>,
    // Patch width and height; where the target's (0, 0) lies in the frame.
    patch_size: vec4<i32>,
};

@group(0) @binding(0) var frame: texture_2d<f32>;
@group(0) @binding(1) var patch_tex: texture_2d<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    // One triangle covering the whole target.
    let x = f32((i << 1u) & 2u) * 2.0 - 1.0;
    let y = f32(i & 2u) * 2.0 - 1.0;
    return vec4<f32>(x, y, 0.0, 1.0);
}

fn tap(u: i32, v: i32, w: f32) -> vec4<f32> {
    if (u < 0 || v < 0 || u >= params.patch_size.x || v >= params.patch_size.y || w == 0.0) {
        return vec4<f32>(0.0);
    }
    return textureLoad(patch_tex, vec2<i32>(u, v), 0) * w;
}

@fragment
fn fs_main(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let px = vec2<i32>(i32(floor(pos.x)), i32(floor(pos.y)));
    let src = textureLoad(frame, px, 0);
    let x = f32(px.x + params.patch_size.z);
    let y = f32(px.y + params.patch_size.w);
    let u = params.inv.x * x - params.inv.y * y + params.inv.z;
    let v = params.inv.y * x + params.inv.x * y + params.inv.w;
    let u0 = floor(u);
    let v0 = floor(v);
    let fu = u - u0;
    let fv = v - v0;
    let iu = i32(u0);
    let iv = i32(v0);
    let acc = tap(iu, iv, (1.0 - fu) * (1.0 - fv)) + tap(iu + 1, iv, fu * (1.0 - fv))
        + tap(iu, iv + 1, (1.0 - fu) * fv) + tap(iu + 1, iv + 1, fu * fv);
    if (acc.a <= 0.0) {
        return src;
    }
    let rgb = acc.rgb / acc.a;
    let a = min(acc.a, 1.0);
    return vec4<f32>(src.rgb + (rgb - src.rgb) * a, src.a);
}
