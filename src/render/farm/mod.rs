//! Renders spread over machines (a render farm, or a few workstations): `redub plan` stores
//! what spans the whole timeline once ([`plan_file`]); pieces of the picture and the sound are
//! rendered apart with reproducible bytes ([`piece`]); `redub concat` checks and joins them
//! without re-encoding ([`join`]); [`jobs`] writes the job files that run those steps on an
//! existing engine (Open Job Description, Slurm, GNU parallel).

pub mod jobs;
pub mod join;
pub mod piece;
pub mod plan_file;
