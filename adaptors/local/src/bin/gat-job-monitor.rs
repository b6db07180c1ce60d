//! The job monitor of libgat's local adaptor as a separate program. The adaptor execs it right
//! after fork (when configured), so a monitor does not keep a copy of the host's memory alive
//! for the job's lifetime. Not meant to be run by hand.

fn main() {
    gat_adaptor_local::monitor_program_main()
}
