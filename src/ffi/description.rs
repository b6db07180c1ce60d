//! Software, hardware-resource, resource and job descriptions. (Being written.)

use std::sync::Arc;

use crate::engine::{HardwareDescription, JobDescription, SoftwareDescription};

pub(crate) struct SoftwareDescriptionObj {
    pub(crate) description: Arc<SoftwareDescription>,
}

pub(crate) struct HardwareResourceDescriptionObj {
    pub(crate) description: Arc<HardwareDescription>,
}

pub(crate) struct JobDescriptionObj {
    pub(crate) description: Arc<JobDescription>,
}

impl JobDescriptionObj {
    pub(crate) fn new(description: Arc<JobDescription>) -> Self {
        JobDescriptionObj { description }
    }
}
