//! Network blocks and their protocol modules: ka9q-radio compatible RTP in and out, and
//! ZeroMQ sources and sinks compatible with GNU Radio's gr-zeromq.
//!
//! | module | purpose |
//! |---|---|
//! | [`rtp`] | RTP fixed header |
//! | [`ka9q_status`] | radiod status packets (TLV, port 5006) |
//! | [`encoding`] | payload sample encodings (s16/f32, both byte orders) |
//! | [`packetizer`] | RTP data packets from c32 samples |
//! | [`timing`] | 32-bit timestamp extension, GPS_TIME/RTP_TIMESNAP to UTC |
//! | [`rtp_source`] | block: radiod RTP in, one c32 output per SSRC |
//! | [`rtp_source_params`] | `rtp_source` parameters and their validation |
//! | [`rtp_channel`] | one channel of `rtp_source`: format, time, window, tags |
//! | [`rtp_sink`] | block: c32 out as radiod-compatible RTP plus status |
//! | [`reorder`] | per-stream reorder window, gaps, duplicates, late packets |
//! | [`udp`] | sockets: unicast/multicast receive with kernel drop counts, rejoin, send |
//! | [`upstream`] | silences of the sender: reported once, multicast rejoined |
//! | [`runtime`] | the shared tokio thread of the ZeroMQ sockets |
//! | [`zmq`] | `zmq_pub_sink`, `zmq_sub_source`, `zmq_push_sink`, `zmq_pull_source`, gr-zeromq tag header, PMT |

pub mod encoding;
pub mod ka9q_status;
pub mod packetizer;
pub mod reorder;
pub mod rtp;
pub mod rtp_channel;
pub mod rtp_sink;
pub mod rtp_source;
pub mod rtp_source_params;
pub mod runtime;
pub mod timing;
pub mod udp;
pub mod upstream;
pub mod zmq;
