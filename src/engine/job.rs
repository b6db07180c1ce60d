#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Initial,
    Scheduled,
    Running,
    Stopped,
    Unknown,
}

pub struct Job {}
