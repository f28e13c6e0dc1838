//! Opening decoder handles on a discovered node: [`DeviceOpener`], with the
//! real device behind [`SessionOpener`] (a fake in the driver's tests).

use crate::v4l2::{DecoderDevice, DecoderSession, V4l2Error};

use super::DecoderNode;

/// Opens decoder handles: the real device ([`SessionOpener`]) or, in tests, a fake.
pub trait DeviceOpener: Send + Sync {
    /// A new handle on `node`.
    fn open(&self, node: &DecoderNode) -> Result<Box<dyn DecoderDevice>, V4l2Error>;
}

/// Opens [`DecoderSession`]s: the V4L2 device itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionOpener;

impl DeviceOpener for SessionOpener {
    fn open(&self, node: &DecoderNode) -> Result<Box<dyn DecoderDevice>, V4l2Error> {
        Ok(Box::new(node.open_session()?))
    }
}

impl DecoderNode {
    /// A [`DecoderSession`] on this node: its video device, and its media device
    /// (found through the media topologies when the node does not name one).
    pub fn open_session(&self) -> Result<DecoderSession, V4l2Error> {
        let media_path = self.media_path.clone().or_else(|| super::media_path_for_video(&self.video_path));
        DecoderSession::open(&self.video_path, media_path.as_deref(), self.multiplanar)
    }
}
