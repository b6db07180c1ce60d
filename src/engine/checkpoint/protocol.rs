//! Where the instrumented-job protocol's files live, relative to the job's working directory
//! (the adaptor turns them into absolute paths on the job's host).

/// libgat's directory inside the job's working directory.
pub const PROTOCOL_DIR: &str = ".gat";
/// `GAT_CHECKPOINT_FILE`: the job writes its state here when asked.
pub const STATE_FILE: &str = ".gat/checkpoint";
/// `GAT_CHECKPOINT_DONE`: the job creates this once the state is complete.
pub const DONE_FILE: &str = ".gat/checkpoint.done";
/// `GAT_RESTART_FILE`: the state a restarted job resumes from. The checkpoint store keeps the
/// cooperative state under this name, so a restart copies it once, straight into place.
pub const RESTART_FILE: &str = ".gat/restart";
