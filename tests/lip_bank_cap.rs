//! The bank lip engine within a tiny memory budget, on real footage: the bank holds no more
//! than the budget, keeps filmed runs, still selects mouths that follow the dub, and the edit's
//! guarantees hold (silence keeps the original mouth, nothing outside the mouth changes).
//! One test in this binary: it sets the budget for the whole process.

mod common;
use redub::lipsync::bank::bank_budget_bytes;

#[test]
fn a_bank_within_a_tiny_budget_keeps_runs_and_the_edit_guarantees() {
    let Some(media) = common::media_and_models("a_bank_within_a_tiny_budget") else { return };
    // SAFETY: the only test of this binary sets the variable before anything else runs (no
    // other thread reads the environment yet).
    unsafe { std::env::set_var("REDUB_BANK_BUDGET_MB", "3") };
    let budget = bank_budget_bytes();
    assert_eq!(budget, 3 << 20);
    let dir = tempfile::tempdir().unwrap();
    let common::GapDubbed { video, project, lips, .. } = common::v1_gap_dubbed(&media, dir.path());
    let lt = &lips.tracks()[0];
    let bank = &lt.bank;
    let n = bank.entries.len();
    let runs = (1..n).filter(|&i| bank.follows(i - 1, i)).count();
    let chosen: Vec<usize> = lt.plan.iter().flatten().map(|p| p.entry).collect();
    let free = chosen.windows(2).filter(|w| bank.follows(w[0], w[1])).count();
    let distinct = {
        let mut c = chosen.clone();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    println!(
        "budget {} KiB: {n} mouths, {} KiB, {} looks of clean frames; {runs} continuing steps; \
         plan: {} edited frames, {distinct} distinct mouths, {free} free steps",
        budget >> 10,
        bank.bytes() >> 10,
        bank.looks.len(),
        chosen.len()
    );
    // The cap holds, and it bit: the 5 s clip has over a hundred clean frames.
    assert!(bank.bytes() <= budget, "{} > {budget}", bank.bytes());
    assert!(n >= 20 && n < bank.looks.len(), "{n} of {}", bank.looks.len());
    assert!(bank.looks.len() > 100, "every clean frame keeps its look");
    // Runs are kept, not thinned to scattered frames.
    assert!(runs * 2 >= n, "{runs} continuing steps among {n} mouths");
    // Selection still works: every edited frame gets a valid mouth, several different ones.
    assert!(chosen.len() > 20 && chosen.iter().all(|&e| e < n));
    assert!(distinct >= 5, "{distinct} distinct mouths");
    // The compact (4:2:0) mouths against the same mouths cut from the decoded frames again.
    let mut decoder = redub::media::VideoDecoder::open_with_cache(&video, 0).unwrap();
    let (w, h) = decoder.size();
    let (mut se, mut count, mut worst) = (0.0f64, 0usize, f64::INFINITY);
    for e in &bank.entries {
        let frame = decoder.frame(e.frame).unwrap();
        let tf = lt.face.at(e.frame).unwrap();
        let fresh = redub::analysis::mouth_patch::extract_patch_at(
            &frame.data,
            w as usize,
            h as usize,
            &tf.landmarks,
            bank.detail(),
        )
        .unwrap();
        let stored = e.to_patch();
        assert_eq!(stored.rgb.len(), fresh.rgb.len());
        let mut frame_se = 0.0f64;
        for (a, b) in stored.rgb.iter().zip(&fresh.rgb) {
            for c in 0..3 {
                frame_se += f64::from(a[c] - b[c]).powi(2);
            }
        }
        let n = 3 * fresh.rgb.len();
        worst = worst.min(10.0 * (255.0f64.powi(2) * n as f64 / frame_se.max(1e-9)).log10());
        se += frame_se;
        count += n;
    }
    let psnr = 10.0 * (255.0f64.powi(2) * count as f64 / se.max(1e-9)).log10();
    println!(
        "stored 4:2:0 mouths vs freshly cut ones: PSNR {psnr:.1} dB (worst mouth {worst:.1} dB)"
    );
    assert!(psnr >= 45.0 && worst >= 42.0, "{psnr} / {worst}");
    let changed = common::edits_stay_in_the_mouth(&video, &project, lips);
    assert!(changed > 20, "{changed} frames changed");
}
