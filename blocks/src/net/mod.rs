//! Network blocks and their protocol modules: ka9q-radio compatible RTP in and out.
//!
//! | module | purpose |
//! |---|---|
//! | [`rtp`] | RTP fixed header |
//! | [`ka9q_status`] | radiod status packets (TLV, port 5006) |
//! | [`encoding`] | payload sample encodings (s16/f32, both byte orders) |
//! | [`timing`] | 32-bit timestamp extension, GPS_TIME/RTP_TIMESNAP to UTC |
//! | [`reorder`] | per-stream reorder window, gaps, duplicates, late packets |
//! | [`udp`] | sockets: unicast/multicast receive with kernel drop counts, send |

pub mod encoding;
pub mod ka9q_status;
pub mod reorder;
pub mod rtp;
pub mod timing;
pub mod udp;
