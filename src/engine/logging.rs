//! Logging: libgat logs through `tracing`. When `GAT_LOG` is set (e.g. `GAT_LOG=debug` or
//! `GAT_LOG=gat::migration=debug`), a subscriber writing to stderr is installed once, unless the
//! host program already installed its own.

use std::sync::Once;

pub fn init_from_environment() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(filter) = std::env::var("GAT_LOG") else { return };
        let filter = tracing_subscriber::EnvFilter::new(filter);
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    });
}
