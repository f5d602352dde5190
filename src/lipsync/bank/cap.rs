//! The bank's memory cap: which mouths a bank over its budget drops first (still
//! near-duplicates, then whole stretches of the most common shapes), and the budget itself.

use super::{Bank, BankEntry, dist};

/// Default memory budget of one face's bank, in MiB (see [`bank_budget_bytes`]).
pub const DEFAULT_BUDGET_MB: f64 = 256.0;

/// The memory budget of one face's bank in bytes: `REDUB_BANK_BUDGET_MB` when set to a positive
/// number, else [`DEFAULT_BUDGET_MB`].
pub fn bank_budget_bytes() -> usize {
    let mb = std::env::var("REDUB_BANK_BUDGET_MB")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(DEFAULT_BUDGET_MB);
    (mb * 1024.0 * 1024.0) as usize
}

/// What [`Bank::cap`] dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapReport {
    /// Entries before the cap.
    pub before: usize,
    /// Near-duplicates dropped from inside filmed runs.
    pub near_duplicates: usize,
    /// Entries dropped as whole stretches of common mouths.
    pub stretches: usize,
}

/// Steps (visual and audio) below this share of the bank's mean step are near-duplicates.
const NEAR_DUPLICATE: f32 = 0.5;
/// Passes of near-duplicate dropping (each drops at most every other frame of a still stretch,
/// so a still stretch plays at most 2^passes times faster).
const NEAR_PASSES: usize = 2;
/// Longest stretch dropped or kept as one piece (about half a second at 25 fps: a syllable or
/// two, long enough to keep the filmed continuity that makes selected paths smooth).
const STRETCH_LEN: usize = 12;
/// Mouth-shape clusters whose diversity the cap keeps.
const SHAPE_CLUSTERS: usize = 24;

/// Mean absolute difference of two descriptors (how much the mouth moves between them).
pub fn descriptor_step(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len()).max(1) as f32;
    a.iter().zip(b).map(|(p, q)| (p - q).abs()).sum::<f32>() / n
}

/// Clusters entries by descriptor (k-means, seeded evenly along the aperture order so every
/// opening is represented); returns each entry's cluster.
fn shape_clusters(entries: &[BankEntry], k: usize) -> Vec<usize> {
    let n = entries.len();
    let k = k.min(n).max(1);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| entries[a].opening.total_cmp(&entries[b].opening));
    let mut centres: Vec<Vec<f32>> =
        (0..k).map(|c| entries[order[(2 * c + 1) * n / (2 * k)]].descriptor.clone()).collect();
    let mut assign = vec![0usize; n];
    for _ in 0..8 {
        for (e, a) in entries.iter().zip(assign.iter_mut()) {
            *a = (0..k)
                .map(|c| (c, dist(&e.descriptor, &centres[c])))
                .fold((0, f32::MAX), |acc, x| if x.1 < acc.1 { x } else { acc })
                .0;
        }
        for (c, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&BankEntry> =
                entries.iter().zip(&assign).filter(|(_, a)| **a == c).map(|(e, _)| e).collect();
            if members.is_empty() {
                continue;
            }
            centre.iter_mut().enumerate().for_each(|(d, v)| {
                *v = members
                    .iter()
                    .map(|m| m.descriptor.get(d).copied().unwrap_or(0.0))
                    .sum::<f32>()
                    / members.len() as f32;
            });
        }
    }
    assign
}

impl Bank {
    /// Keeps at most `max_entries` entries, dropping what costs the selection least, in order:
    /// 1. near-duplicates inside filmed runs: a frame whose mouth and audio both change less
    ///    than [`NEAR_DUPLICATE`] × the bank's mean step from each neighbour (still faces,
    ///    held sounds); at most every other frame per pass, and its successor still continues
    ///    the run, so paths through it stay free and smooth;
    /// 2. whole stretches of up to [`STRETCH_LEN`] filmed frames, the most common mouths first:
    ///    mouths are clustered by shape, and the stretch whose mouths sit in the most crowded
    ///    clusters goes, never the last stretch of a cluster while another can go. Runs are kept
    ///    whole rather than thinned, since natural successors are what make paths smooth, and
    ///    rare shapes (the widest openings, rounded lips) stay.
    pub fn cap(&mut self, max_entries: usize) -> CapReport {
        let mut report = CapReport { before: self.entries.len(), ..CapReport::default() };
        let max_entries = max_entries.max(1);
        for _ in 0..NEAR_PASSES {
            if self.entries.len() <= max_entries {
                return report;
            }
            let n = self.entries.len();
            // Step into entry i from i − 1 (None where i does not continue i − 1).
            let steps: Vec<Option<(f32, f32)>> = (0..n)
                .map(|i| {
                    (i > 0 && self.follows(i - 1, i)).then(|| {
                        let (a, b) = (&self.entries[i - 1], &self.entries[i]);
                        (
                            descriptor_step(&a.descriptor, &b.descriptor),
                            dist(&a.features, &b.features),
                        )
                    })
                })
                .collect();
            // The mean step, not the median: on a long shot that mostly holds still the median
            // step is itself a still one.
            let count = steps.iter().flatten().count().max(1) as f32;
            let med_v = (steps.iter().flatten().map(|s| s.0).sum::<f32>() / count).max(1e-6);
            let med_a = (steps.iter().flatten().map(|s| s.1).sum::<f32>() / count).max(1e-6);
            let mut candidates: Vec<(usize, f32)> = (1..n.saturating_sub(1))
                .filter_map(|i| {
                    let (a, b) = (steps[i]?, steps[i + 1]?);
                    let (v, au) = (a.0.max(b.0) / med_v, a.1.max(b.1) / med_a);
                    (v < NEAR_DUPLICATE && au < NEAR_DUPLICATE).then_some((i, v + au))
                })
                .collect();
            candidates.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            let mut drop = vec![false; n];
            let mut left = n;
            for (i, _) in candidates {
                if left <= max_entries {
                    break;
                }
                if !drop[i - 1] && !drop[i + 1] {
                    drop[i] = true;
                    left -= 1;
                }
            }
            let dropped = n - left;
            if dropped == 0 {
                break;
            }
            report.near_duplicates += dropped;
            let mut k = 0;
            self.entries.retain(|_| {
                k += 1;
                !drop[k - 1]
            });
        }
        if self.entries.len() <= max_entries {
            return report;
        }
        // Stretches: filmed runs cut into pieces of at most STRETCH_LEN.
        let n = self.entries.len();
        let mut stretches: Vec<std::ops::Range<usize>> = Vec::new();
        for i in 0..n {
            match stretches.last_mut() {
                Some(r) if self.follows(i - 1, i) && r.len() < STRETCH_LEN => r.end = i + 1,
                _ => stretches.push(i..i + 1),
            }
        }
        let cluster = shape_clusters(&self.entries, SHAPE_CLUSTERS);
        let mut counts = [0usize; SHAPE_CLUSTERS];
        cluster.iter().for_each(|&c| counts[c] += 1);
        let mut kept = vec![true; stretches.len()];
        let mut keep = vec![true; n];
        let mut left = n;
        while left > max_entries {
            let mut best: Option<(usize, bool, f32)> = None;
            for (s, r) in stretches.iter().enumerate().filter(|(s, _)| kept[*s]) {
                // Whether dropping it empties a cluster, and how crowded its mouths are.
                let own = &cluster[r.clone()];
                let empties =
                    own.iter().any(|&c| counts[c] <= own.iter().filter(|&&x| x == c).count());
                let crowd = own.iter().map(|&c| counts[c] as f32).sum::<f32>() / own.len() as f32;
                let better = match best {
                    None => true,
                    Some((_, e, cr)) => (!empties && e) || (empties == e && crowd > cr),
                };
                if better {
                    best = Some((s, empties, crowd));
                }
            }
            let Some((s, _, _)) = best else { break };
            // The whole stretch, or its tail where less is still to go (its start stays a run).
            let r = stretches[s].clone();
            let cut = r.len().min(left - max_entries);
            for i in r.end - cut..r.end {
                keep[i] = false;
                counts[cluster[i]] -= 1;
            }
            stretches[s].end -= cut;
            kept[s] = !stretches[s].is_empty();
            left -= cut;
            report.stretches += cut;
        }
        let old = std::mem::take(&mut self.entries);
        for (i, mut e) in old.into_iter().enumerate() {
            if !keep[i] {
                continue;
            }
            // The first mouth after a dropped stretch no longer continues anything.
            if i > 0 && !keep[i - 1] {
                e.continues = false;
            }
            self.entries.push(e);
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::mouth_patch::{PATCH_H, PATCH_W, Patch};
    use crate::lipsync::bank::SelectParams;

    /// A bank of the shape of a long shot: `still` frames of a face holding still while quiet
    /// (near-identical mouths and audio), then runs of moving mouths of several shapes, one of
    /// them (the widest) rare.
    fn long_bank(still: usize) -> Bank {
        let mouth = |open: f32, jitter: f32| Patch {
            rgb: (0..PATCH_W * PATCH_H)
                .map(|i| {
                    let (u, v) = ((i % PATCH_W) as f32, (i / PATCH_W) as f32);
                    let r = ((u - 64.0) / 22.0).powi(2) + ((v - 45.0) / open.max(0.5)).powi(2);
                    if r <= 1.0 { [40.0; 3] } else { [180.0 + jitter, 130.0, 120.0] }
                })
                .collect(),
        };
        let mut entries = Vec::new();
        let mut f = 0i64;
        for k in 0..still {
            entries.push(BankEntry::new(f, &mouth(1.0, (k % 2) as f32 * 0.2), vec![0.0, 0.0]));
            f += 1;
        }
        // Speech: 30 runs of 10 moving frames; every 10th run reaches the widest opening.
        for run in 0..30 {
            f += 5; // a gap (occluded frames) between runs
            for k in 0..10 {
                let top = if run % 10 == 9 { 20.0 } else { 4.0 + (run % 3) as f32 * 3.0 };
                let open = top * (k as f32 / 9.0 * std::f32::consts::PI).sin().max(0.1);
                let feat = vec![open / 4.0, (k as f32).sin()];
                entries.push(BankEntry::new(f, &mouth(open, 0.0), feat));
                f += 1;
            }
        }
        Bank::new(entries)
    }

    #[test]
    fn the_cap_drops_still_duplicates_first_and_keeps_rare_mouths_and_runs() {
        let full = long_bank(400);
        assert_eq!(full.entries.len(), 700);
        let widest = |b: &Bank| b.entries.iter().map(|e| e.opening).fold(0.0f32, f32::max);
        // A mild cap: only near-duplicates of the still stretch go; speech is untouched.
        let mut bank = full.clone();
        let report = bank.cap(600);
        assert_eq!(report, CapReport { before: 700, near_duplicates: 100, stretches: 0 });
        assert_eq!(bank.entries.len(), 600);
        assert!(bank.entries.iter().filter(|e| e.frame >= 400).count() == 300, "speech kept");
        // The still run still continues through its dropped frames: one free path.
        assert!((1..300).all(|i| bank.follows(i - 1, i)));
        // A hard cap: stretches go too, the widest mouths and whole runs stay.
        let mut bank = full.clone();
        let report = bank.cap(150);
        assert!(bank.entries.len() <= 150 && bank.entries.len() > 130, "{report:?}");
        assert_eq!(report.before, 700);
        assert!(report.near_duplicates > 0 && report.stretches > 0, "{report:?}");
        assert_eq!(widest(&bank), widest(&full), "the rarest opening stays");
        // Runs are kept, not thinned: most kept mouths continue the one before.
        let continuing = (1..bank.entries.len()).filter(|&i| bank.follows(i - 1, i)).count();
        assert!(continuing * 10 >= bank.entries.len() * 8, "{continuing}");
        // Every kept speech run is whole where it was not dropped: frames stay consecutive.
        for i in 1..bank.entries.len() {
            if bank.entries[i].continues && bank.entries[i].frame >= 400 {
                assert_eq!(bank.entries[i].frame, bank.entries[i - 1].frame + 1);
            }
        }
        // Still quiet mouths no longer dominate: the quiet share fell.
        let quiet = bank.entries.iter().filter(|e| e.frame < 400).count();
        assert!(quiet * 2 < bank.entries.len(), "{quiet} of {}", bank.entries.len());
        // Selection on the capped bank still follows the audio along runs.
        let targets: Vec<Option<Vec<f32>>> = (0..10)
            .map(|k| Some(bank.entries[bank.entries.len() - 10 + k].features.clone()))
            .collect();
        let sel = bank.select(&targets, SelectParams::default());
        assert!(sel.iter().all(Option::is_some));
        let free = sel.windows(2).filter(|w| bank.follows(w[0].unwrap(), w[1].unwrap())).count();
        assert!(free >= 7, "{sel:?}");
        // No cap needed: nothing changes.
        let mut bank = full.clone();
        assert_eq!(bank.cap(10_000).near_duplicates, 0);
        assert_eq!(bank, full);
    }
}
