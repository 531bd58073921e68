//! The backup job's steps, in the order they run: dump → storage (when the
//! environment has buckets) → manifest → verify → publish.

pub(crate) mod dump;
pub(crate) mod manifest;
pub(crate) mod publish;
pub(crate) mod storage;
pub(crate) mod verify;
