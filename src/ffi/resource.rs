//! GATHardwareResource, GATResource and GATList_GATResource. (Being written.)

use std::sync::Arc;

use crate::engine::HardwareResource;

pub(crate) struct ListResourceObj {}

pub(crate) struct HardwareResourceObj {
    pub(crate) resource: Arc<HardwareResource>,
}

impl HardwareResourceObj {
    pub(crate) fn new(resource: Arc<HardwareResource>) -> Self {
        HardwareResourceObj { resource }
    }
}
