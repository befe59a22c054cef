//! Message ports during `work`: outputs that post to every connected queue without
//! blocking (backpressure or drops per the edge policy), and inputs that take what is queued.

use std::sync::Arc;

use crate::buffer::Waker;
use crate::message::Message;

/// A message target of a message output.
#[derive(Debug)]
pub(crate) struct MessageTarget {
    pub(crate) tx: flume::Sender<Message>,
    /// A receiver clone, to discard the oldest message under `drop_oldest` (only then: a
    /// clone held here would keep the queue connected after its consumer has ended).
    pub(crate) rx: Option<flume::Receiver<Message>>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) capacity: usize,
    pub(crate) policy: crate::graph::EdgePolicy,
}

/// A message output during a work call.
#[derive(Debug)]
pub struct MessageOutput {
    name: Arc<str>,
    pub(crate) targets: Vec<MessageTarget>,
    pub(crate) sent: u64,
    pub(crate) dropped: u64,
}

impl MessageOutput {
    pub(crate) fn new(name: Arc<str>, targets: Vec<MessageTarget>) -> Self {
        MessageOutput {
            name,
            targets,
            sent: 0,
            dropped: 0,
        }
    }

    /// The port name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends a message to every connected input (cloning is cheap: payloads are shared).
    ///
    /// Never blocks. Under the `block` policy a full queue holds the *block* back (it is not
    /// scheduled until the queue drains); under the drop policies the message or the oldest
    /// queued one is discarded and counted.
    pub fn post(&mut self, msg: Message) {
        use crate::graph::EdgePolicy;
        let last = self.targets.len().saturating_sub(1);
        let mut msg = Some(msg);
        for (i, t) in self.targets.iter().enumerate() {
            let m = if i == last { msg.take() } else { msg.clone() };
            let Some(m) = m else { break };
            if t.tx.len() >= t.capacity {
                match t.policy {
                    EdgePolicy::Block => {}
                    EdgePolicy::DropNewest => {
                        self.dropped += 1;
                        continue;
                    }
                    EdgePolicy::DropOldest => {
                        if t.rx.as_ref().is_some_and(|rx| rx.try_recv().is_ok()) {
                            self.dropped += 1;
                        }
                    }
                }
            }
            if t.tx.send(m).is_ok() {
                self.sent += 1;
                t.waker.wake();
            }
        }
    }

    /// True when nobody is connected.
    pub fn is_connected(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Runtime: false if a `block`-policy target is full (a target whose consumer has ended
    /// is disconnected and never holds the producer back).
    pub(crate) fn ready(&self) -> bool {
        self.targets.iter().all(|t| {
            t.policy != crate::graph::EdgePolicy::Block
                || t.tx.len() < t.capacity
                || t.tx.is_disconnected()
        })
    }

    /// Runtime: disconnect (receivers see the end once every sender is gone).
    pub(crate) fn close(&mut self) {
        for t in self.targets.drain(..) {
            t.waker.wake();
        }
    }
}

/// A message input during a work call.
#[derive(Debug)]
pub struct MessageInput {
    name: Arc<str>,
    pub(crate) rx: flume::Receiver<Message>,
    pub(crate) received: u64,
    /// Threads of the blocks that post here: woken after messages were taken, so a producer
    /// held back by a full queue resumes at once.
    pub(crate) producers: Vec<Arc<Waker>>,
}

impl MessageInput {
    pub(crate) fn new(name: Arc<str>, rx: flume::Receiver<Message>) -> Self {
        MessageInput {
            name,
            rx,
            received: 0,
            producers: Vec::new(),
        }
    }

    /// The port name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next queued message, if any (never blocks).
    pub fn recv(&mut self) -> Option<Message> {
        let m = self.rx.try_recv().ok();
        if m.is_some() {
            self.received += 1;
        }
        m
    }

    /// Number of queued messages.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// True when no message is queued.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// True when every sender has finished and the queue is empty.
    pub fn is_finished(&self) -> bool {
        self.rx.is_disconnected() && self.rx.is_empty()
    }
}
