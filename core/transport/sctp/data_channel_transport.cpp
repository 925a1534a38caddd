#include "core/transport/sctp/data_channel_transport.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "core/transport/sctp/dcep.h"

namespace tandem::transport {
namespace {

constexpr uint64_t kNsPerMs = 1'000'000;

uint32_t ppid_of(WebRtcPpid p) { return static_cast<uint32_t>(p); }

// A FIFO over a vector that keeps its capacity (std::deque frees and reallocates blocks as it goes).
template <class T>
class Ring {
 public:
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  T& front() { return buf_[head_]; }
  void push_back(T value) {
    if (count_ == buf_.size()) grow();
    buf_[(head_ + count_) % buf_.size()] = std::move(value);
    ++count_;
  }
  void pop_front() {
    head_ = (head_ + 1) % buf_.size();
    if (--count_ == 0) head_ = 0;
  }
  void clear() { head_ = count_ = 0; }

 private:
  void grow() {
    std::vector<T> bigger(std::max<size_t>(8, buf_.size() * 2));
    for (size_t i = 0; i < count_; ++i) bigger[i] = std::move(buf_[(head_ + i) % buf_.size()]);
    buf_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<T> buf_;
  size_t head_ = 0;
  size_t count_ = 0;
};

struct QueuedMessage {
  uint32_t size = 0;
  uint32_t ppid = 0;
  bool user = true;  // a user message (counts in buffered_amount), not DCEP
  uint64_t enqueued_ns = 0;
};

// One channel's messages waiting for room in usrsctp's send buffer: headers in a ring, payloads back to back
// in one byte buffer whose capacity is reused.
class MessageQueue {
 public:
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  void push(std::span<const uint8_t> payload, uint32_t ppid, bool user, uint64_t now_ns) {
    if (begin_ > 0 && begin_ >= bytes_.size() / 2) {  // reclaim the consumed front before growing
      bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(begin_));
      begin_ = 0;
    }
    bytes_.insert(bytes_.end(), payload.begin(), payload.end());
    items_.push_back({static_cast<uint32_t>(payload.size()), ppid, user, now_ns});
  }
  const QueuedMessage& front() { return items_.front(); }
  std::span<const uint8_t> front_payload() { return {bytes_.data() + begin_, items_.front().size}; }
  void pop() {
    begin_ += items_.front().size;
    items_.pop_front();
    if (items_.empty()) {
      bytes_.clear();
      begin_ = 0;
    }
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t begin_ = 0;
  Ring<QueuedMessage> items_;
};

struct Channel {
  DataChannelInfo info;
  bool acked = false;            // DCEP: the peer has seen our DATA_CHANNEL_OPEN (an ACK or any message came)
  bool hidden = false;           // a stream we reset to reject the peer's DATA_CHANNEL_OPEN; no app events
  bool reset_requested = false;  // our outgoing stream reset was asked for
  bool incoming_reset = false;   // the peer reset its outgoing stream
  bool outgoing_reset = false;   // ours is done
  MessageQueue queue;
};

struct PendingEvent {
  DataChannelEventKind kind = DataChannelEventKind::connected;
  uint16_t id = 0;
  std::string_view reason;
};

}  // namespace

struct DataChannelTransport::Impl {
  explicit Impl(SctpEndpoint endpoint) : sctp(std::move(endpoint)) {}

  DataChannelTransportOptions options;
  SctpEndpoint sctp;
  std::vector<std::unique_ptr<Channel>> channels;  // by stream id
  std::vector<uint16_t> ids;                       // the ids that have a record, in no particular order
  Ring<PendingEvent> events;
  size_t round_robin = 0;  // where in `ids` the next flush starts
  size_t queued = 0;       // messages in all channel queues
  uint64_t now_ns = 0;
  bool started = false, connected = false, ended = false;
  std::vector<uint8_t> dcep_scratch;
  DataChannelStats stats;

  Channel* find(uint16_t id) { return id < channels.size() ? channels[id].get() : nullptr; }
  uint16_t stream_limit() const { return connected ? sctp.outbound_streams() : options.sctp.streams; }
  uint32_t max_send_size() const {
    const uint32_t local = options.sctp.max_message_size;
    return options.remote_max_message_size ? std::min(local, options.remote_max_message_size) : local;
  }
  void emit(DataChannelEventKind kind, uint16_t id = 0, std::string_view reason = {}) {
    events.push_back({kind, id, reason});
  }
  void dcep_error(uint16_t id, std::string_view reason) {
    ++stats.dcep_errors;
    emit(DataChannelEventKind::error, id, reason);
  }

  Channel& add(uint16_t id) {
    channels[id] = std::make_unique<Channel>();
    ids.push_back(id);
    Channel& ch = *channels[id];
    ch.info.id = id;
    return ch;
  }

  // Hands one message to SCTP. resource_exhausted: usrsctp has no room now (keep it); `expired`: its lifetime
  // passed while it waited in our queue (drop it).
  Result<void> to_sctp(Channel& ch, std::span<const uint8_t> payload, uint32_t ppid, bool user,
                       uint64_t enqueued_ns, bool& expired) {
    expired = false;
    SctpSendOptions how;
    if (user) {
      // RFC 8832 section 6: until the peer has evidently seen our DATA_CHANNEL_OPEN, send ordered, so that no
      // message overtakes it.
      how.unordered = !ch.info.ordered && ch.acked;
      if (ch.info.max_retransmits) {
        how.reliability = SctpReliability::max_retransmits;
        how.reliability_value = *ch.info.max_retransmits;
      } else if (ch.info.max_packet_lifetime_ms) {
        const uint64_t waited_ms = (now_ns - std::min(now_ns, enqueued_ns)) / kNsPerMs;
        if (waited_ms > *ch.info.max_packet_lifetime_ms) {
          expired = true;
          return {};
        }
        how.reliability = SctpReliability::max_lifetime;
        how.reliability_value = *ch.info.max_packet_lifetime_ms - static_cast<uint32_t>(waited_ms);
      }
    }
    static constexpr uint8_t kEmptyMessageByte = 0;  // RFC 8831 section 6.6: empty messages carry one byte
    const auto wire = payload.empty() ? std::span<const uint8_t>(&kEmptyMessageByte, 1) : payload;
    Result<void> r = sctp.send(ch.info.id, ppid, wire, how, now_ns);
    if (r.ok() && user) {
      ++stats.messages_sent;
      stats.bytes_sent += payload.size();
      ++ch.info.messages_sent;
      ch.info.bytes_sent += payload.size();
    }
    return r;
  }

  // Sends at once when nothing waits ahead of the message, else queues it behind the others.
  Result<void> send_or_queue(Channel& ch, std::span<const uint8_t> payload, uint32_t ppid, bool user) {
    if (queued == 0) {
      bool expired = false;
      Result<void> r = to_sctp(ch, payload, ppid, user, now_ns, expired);
      if (r.code() != Errc::resource_exhausted) return r;
    }
    ch.queue.push(payload, ppid, user, now_ns);
    ++queued;
    if (user) ch.info.buffered_amount += payload.size();
    flush();
    return {};
  }

  void dequeue(Channel& ch) {
    const QueuedMessage& m = ch.queue.front();
    if (m.user) {
      const uint64_t before = ch.info.buffered_amount;
      ch.info.buffered_amount -= m.size;
      const uint64_t threshold = ch.info.buffered_amount_low_threshold;
      if (before > threshold && ch.info.buffered_amount <= threshold) {
        emit(DataChannelEventKind::buffered_amount_low, ch.info.id);
      }
    }
    ch.queue.pop();
    --queued;
    if (ch.queue.empty() && ch.info.state == DataChannelState::closing && !ch.reset_requested) request_reset(ch);
  }

  // Moves queued messages into usrsctp while it has room: one message per channel per pass (round robin), and
  // at the first one that does not fit, stop there, so that a large message is not starved by smaller ones.
  void flush() {
    if (!connected) return;
    for (bool progress = true; queued > 0 && progress;) {
      progress = false;
      for (size_t n = 0, count = ids.size(); n < count && queued > 0 && !ids.empty(); ++n) {
        const size_t at = (round_robin + n) % ids.size();
        Channel& ch = *channels[ids[at]];
        if (ch.queue.empty()) continue;
        const QueuedMessage m = ch.queue.front();
        bool expired = false;
        Result<void> r = to_sctp(ch, ch.queue.front_payload(), m.ppid, m.user, m.enqueued_ns, expired);
        if (r.code() == Errc::resource_exhausted) {
          round_robin = at;
          return;
        }
        if (expired) ++stats.messages_expired_in_queue;
        if (!r.ok()) ++stats.messages_dropped;  // SCTP cannot take it at all (the association is going away)
        dequeue(ch);
        progress = true;
      }
    }
  }

  void request_reset(Channel& ch) {
    ch.reset_requested = true;
    const uint16_t id = ch.info.id;
    if (!sctp.reset_outgoing_streams(std::span<const uint16_t>(&id, 1)).ok()) finalize(ch);
  }

  // Closes a channel from our side or because the peer reset its stream: flush what is queued, then reset.
  void begin_close(Channel& ch) {
    if (ch.info.state == DataChannelState::closing || ch.info.state == DataChannelState::closed) return;
    if (!connected) {  // nothing went over SCTP yet: nothing to reset
      finalize(ch);
      return;
    }
    ch.info.state = DataChannelState::closing;
    if (ch.queue.empty() && !ch.reset_requested) request_reset(ch);
  }

  void finalize(Channel& ch) {
    const uint16_t id = ch.info.id;
    if (!ch.hidden) {
      ++stats.channels_closed;
      emit(DataChannelEventKind::channel_closed, id);
    }
    queued -= ch.queue.size();
    ids.erase(std::find(ids.begin(), ids.end(), id));
    round_robin = ids.empty() ? 0 : round_robin % ids.size();
    channels[id].reset();
  }

  void finalize_all() {
    std::vector<uint16_t> all = ids;
    std::sort(all.begin(), all.end());
    for (uint16_t id : all) {
      if (Channel* ch = find(id)) finalize(*ch);
    }
  }

  // The channel goes over the wire: DATA_CHANNEL_OPEN first unless negotiated.
  void open_local(Channel& ch) {
    ch.info.state = DataChannelState::open;
    ++stats.channels_opened;
    emit(DataChannelEventKind::channel_open, ch.info.id);
    if (ch.info.negotiated) {
      ch.acked = true;
      return;
    }
    DcepOpen open;
    open.ordered = ch.info.ordered;
    open.priority = ch.info.priority;
    open.label = ch.info.label;
    open.protocol = ch.info.protocol;
    if (ch.info.max_retransmits) {
      open.reliability = DcepReliability::max_retransmits;
      open.reliability_parameter = *ch.info.max_retransmits;
    } else if (ch.info.max_packet_lifetime_ms) {
      open.reliability = DcepReliability::max_lifetime;
      open.reliability_parameter = *ch.info.max_packet_lifetime_ms;
    }
    if (write_dcep_open(open, dcep_scratch).ok()) {  // sizes were checked by create_channel
      (void)send_or_queue(ch, dcep_scratch, ppid_of(WebRtcPpid::dcep), false);
    }
  }

  void on_connected() {
    connected = true;
    emit(DataChannelEventKind::connected);
    std::vector<uint16_t> waiting = ids;
    std::sort(waiting.begin(), waiting.end());
    for (uint16_t id : waiting) {
      Channel* ch = find(id);
      if (!ch) continue;
      if (id >= sctp.outbound_streams()) {  // the peer accepts fewer streams than we assumed
        finalize(*ch);
      } else {
        open_local(*ch);
      }
    }
  }

  void on_closed(std::string_view reason) {
    if (ended) return;
    connected = false;
    ended = true;
    finalize_all();
    emit(DataChannelEventKind::closed, 0, reason);
  }

  // Answers the peer's DATA_CHANNEL_OPEN with a stream reset (RFC 8832 section 6), under a hidden record so
  // that the id is not reused before both directions are reset.
  void reject(uint16_t id) {
    if (find(id) || id >= sctp.outbound_streams()) return;
    Channel& ch = add(id);
    ch.hidden = true;
    ch.info.state = DataChannelState::closing;
    request_reset(ch);
  }

  void on_dcep(uint16_t id, std::span<const uint8_t> message) {
    Result<DcepMessageType> type = dcep_message_type(message);
    if (!type.ok()) return dcep_error(id, "unknown DCEP message type");
    Channel* ch = find(id);
    if (*type == DcepMessageType::ack) {
      if (!ch || ch->info.remote || ch->info.negotiated) return dcep_error(id, "unexpected DATA_CHANNEL_ACK");
      ch->acked = true;
      return;
    }
    if (ch) return dcep_error(id, "DATA_CHANNEL_OPEN on a stream in use");  // the existing channel stays
    Result<DcepOpen> open = parse_dcep_open(message);
    if (!open.ok()) {
      reject(id);
      return dcep_error(id, "malformed DATA_CHANNEL_OPEN");
    }
    if ((id % 2 == 0) == options.dtls_client) {  // the peer must use the other parity
      reject(id);
      return dcep_error(id, "DATA_CHANNEL_OPEN with a stream id of the wrong parity");
    }
    if (id >= sctp.outbound_streams()) return dcep_error(id, "DATA_CHANNEL_OPEN on a stream we cannot answer on");
    Channel& c = add(id);
    c.info.label.assign(open->label);
    c.info.protocol.assign(open->protocol);
    c.info.ordered = open->ordered;
    c.info.priority = open->priority;
    c.info.remote = true;
    if (open->reliability == DcepReliability::max_retransmits) c.info.max_retransmits = open->reliability_parameter;
    if (open->reliability == DcepReliability::max_lifetime) c.info.max_packet_lifetime_ms = open->reliability_parameter;
    c.acked = true;
    c.info.state = DataChannelState::open;
    ++stats.channels_opened;
    const uint8_t ack = static_cast<uint8_t>(DcepMessageType::ack);
    (void)send_or_queue(c, std::span<const uint8_t>(&ack, 1), ppid_of(WebRtcPpid::dcep), false);
    emit(DataChannelEventKind::channel_open, id);
  }

  void on_stream_reset(const SctpEvent& ev) {
    auto apply = [&](uint16_t id) {
      Channel* ch = find(id);
      if (!ch) return;
      if (ev.incoming && !ev.failed) {
        ch->incoming_reset = true;
        begin_close(*ch);
        if (!find(id)) return;  // finalized (the association is down)
      }
      if (ev.outgoing) {
        if (ev.failed) ++stats.stream_reset_failures;  // still closed: waiting would hang the channel forever
        ch->outgoing_reset = true;
      }
      if (ch->incoming_reset && ch->outgoing_reset) finalize(*ch);
    };
    if (ev.streams.empty()) {  // every stream
      std::vector<uint16_t> all = ids;
      for (uint16_t id : all) apply(id);
    } else {
      for (uint16_t id : ev.streams) apply(id);
    }
  }

  // A user message for the application, or nothing (it was not one, or was dropped).
  std::optional<DataChannelEvent> on_message(const SctpEvent& m) {
    if (m.ppid == ppid_of(WebRtcPpid::dcep)) {
      on_dcep(m.stream, m.payload);
      return std::nullopt;
    }
    bool binary = false, empty = false;
    switch (static_cast<WebRtcPpid>(m.ppid)) {
      case WebRtcPpid::string: break;
      case WebRtcPpid::binary: binary = true; break;
      case WebRtcPpid::string_empty: empty = true; break;
      case WebRtcPpid::binary_empty: binary = empty = true; break;
      default: ++stats.messages_dropped; return std::nullopt;
    }
    Channel* ch = find(m.stream);
    if (!ch || ch->hidden || ch->info.state == DataChannelState::connecting) {
      ++stats.messages_dropped;
      return std::nullopt;
    }
    ch->acked = true;  // any message from the peer on this stream means it has seen our DATA_CHANNEL_OPEN
    DataChannelEvent ev;
    ev.kind = DataChannelEventKind::message;
    ev.id = m.stream;
    ev.binary = binary;
    if (!empty) ev.payload = m.payload;
    ++stats.messages_received;
    stats.bytes_received += ev.payload.size();
    ++ch->info.messages_received;
    ch->info.bytes_received += ev.payload.size();
    return ev;
  }
};

Result<DataChannelTransport> DataChannelTransport::create(const DataChannelTransportOptions& options) {
  Result<SctpEndpoint> endpoint = SctpEndpoint::create(options.sctp);
  if (!endpoint.ok()) return endpoint.error();
  auto impl = std::make_unique<Impl>(std::move(endpoint).value());
  impl->options = options;
  impl->channels.resize(options.sctp.streams);
  return DataChannelTransport(std::move(impl));
}

DataChannelTransport::DataChannelTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DataChannelTransport::DataChannelTransport(DataChannelTransport&&) noexcept = default;
DataChannelTransport& DataChannelTransport::operator=(DataChannelTransport&&) noexcept = default;
DataChannelTransport::~DataChannelTransport() = default;

Result<void> DataChannelTransport::start(uint64_t now_ns) {
  if (!impl_ || impl_->ended) return {Errc::invalid_argument, "the data channel transport is closed"};
  if (impl_->started) return {Errc::invalid_argument, "start() was already called"};
  impl_->now_ns = std::max(impl_->now_ns, now_ns);
  Result<void> r = impl_->sctp.connect(impl_->options.remote_port, now_ns);
  if (r.ok()) impl_->started = true;
  return r;
}

void DataChannelTransport::close() {
  if (!impl_) return;
  impl_->sctp.close();
  impl_->on_closed("closed locally");
}

Result<void> DataChannelTransport::handle_datagram(std::span<const uint8_t> packet, uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from DataChannelTransport"};
  impl_->now_ns = std::max(impl_->now_ns, now_ns);
  Result<void> r = impl_->sctp.handle_datagram(packet, now_ns);
  impl_->flush();  // acknowledgements may have freed room in usrsctp's send buffer
  return r;
}

std::optional<std::span<const uint8_t>> DataChannelTransport::poll_transmit() {
  if (!impl_) return std::nullopt;
  return impl_->sctp.poll_transmit();
}

std::optional<DataChannelEvent> DataChannelTransport::poll_event() {
  if (!impl_) return std::nullopt;
  Impl& t = *impl_;
  for (;;) {
    if (!t.events.empty()) {
      const PendingEvent p = t.events.front();
      t.events.pop_front();
      DataChannelEvent ev;
      ev.kind = p.kind;
      ev.id = p.id;
      ev.reason = p.reason;
      if (p.kind == DataChannelEventKind::channel_open) {
        Channel* ch = t.find(p.id);
        if (!ch || ch->info.state != DataChannelState::open) continue;  // closed again before anyone looked
        ev.channel = &ch->info;
      }
      return ev;
    }
    std::optional<SctpEvent> s = t.sctp.poll_event();
    if (!s) return std::nullopt;
    switch (s->kind) {
      case SctpEventKind::connected: t.on_connected(); break;
      case SctpEventKind::closed: t.on_closed(s->reason); break;
      case SctpEventKind::stream_reset: t.on_stream_reset(*s); break;
      case SctpEventKind::message:
        if (auto ev = t.on_message(*s)) return ev;
        break;
    }
  }
}

std::optional<uint64_t> DataChannelTransport::next_timeout() const {
  return impl_ ? impl_->sctp.next_timeout() : std::nullopt;
}

Result<void> DataChannelTransport::handle_timeout(uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from DataChannelTransport"};
  impl_->now_ns = std::max(impl_->now_ns, now_ns);
  Result<void> r = impl_->sctp.handle_timeout(now_ns);
  impl_->flush();  // abandoned PR-SCTP messages may have freed room
  return r;
}

Result<uint16_t> DataChannelTransport::create_channel(const DataChannelInit& init) {
  if (!impl_ || impl_->ended) return Error{Errc::invalid_argument, "the data channel transport is closed"};
  Impl& t = *impl_;
  if (init.max_retransmits && init.max_packet_lifetime_ms) {
    return Error{Errc::invalid_argument, "max_retransmits and max_packet_lifetime_ms are mutually exclusive"};
  }
  if (init.label.size() > UINT16_MAX || init.protocol.size() > UINT16_MAX) {
    return Error{Errc::invalid_argument, "data channel label and protocol are limited to 65535 bytes"};
  }
  const uint16_t limit = t.stream_limit();
  uint16_t id = 0;
  if (init.negotiated_id) {
    id = *init.negotiated_id;
    if (id >= limit) return Error{Errc::invalid_argument, "negotiated id out of range"};
    if (t.find(id)) return Error{Errc::invalid_argument, "negotiated id already in use"};
  } else {
    // RFC 8832 section 6: the DTLS client takes even ids, the server odd ones; the lowest free one.
    uint32_t candidate = t.options.dtls_client ? 0 : 1;
    while (candidate < limit && t.find(static_cast<uint16_t>(candidate))) candidate += 2;
    if (candidate >= limit) return Error{Errc::resource_exhausted, "no free stream id"};
    id = static_cast<uint16_t>(candidate);
  }
  Channel& ch = t.add(id);
  ch.info.label = init.label;
  ch.info.protocol = init.protocol;
  ch.info.ordered = init.ordered;
  ch.info.max_retransmits = init.max_retransmits;
  ch.info.max_packet_lifetime_ms = init.max_packet_lifetime_ms;
  ch.info.negotiated = init.negotiated_id.has_value();
  ch.info.priority = init.priority;
  if (t.connected) t.open_local(ch);
  return id;
}

Result<void> DataChannelTransport::send(uint16_t id, std::span<const uint8_t> payload, bool binary,
                                        uint64_t now_ns) {
  if (!impl_) return {Errc::invalid_argument, "moved-from DataChannelTransport"};
  Impl& t = *impl_;
  t.now_ns = std::max(t.now_ns, now_ns);
  Channel* ch = t.find(id);
  if (!ch || ch->hidden) return {Errc::invalid_argument, "no such data channel"};
  if (ch->info.state != DataChannelState::open) return {Errc::invalid_argument, "the data channel is not open"};
  if (payload.size() > t.max_send_size()) return {Errc::invalid_argument, "message larger than max-message-size"};
  const WebRtcPpid ppid = binary ? (payload.empty() ? WebRtcPpid::binary_empty : WebRtcPpid::binary)
                                 : (payload.empty() ? WebRtcPpid::string_empty : WebRtcPpid::string);
  return t.send_or_queue(*ch, payload, ppid_of(ppid), true);
}

uint64_t DataChannelTransport::buffered_amount(uint16_t id) const {
  const DataChannelInfo* info = channel(id);
  return info ? info->buffered_amount : 0;
}

Result<void> DataChannelTransport::set_buffered_amount_low_threshold(uint16_t id, uint64_t bytes) {
  Channel* ch = impl_ ? impl_->find(id) : nullptr;
  if (!ch || ch->hidden) return {Errc::invalid_argument, "no such data channel"};
  ch->info.buffered_amount_low_threshold = bytes;
  return {};
}

Result<void> DataChannelTransport::close_channel(uint16_t id) {
  Channel* ch = impl_ ? impl_->find(id) : nullptr;
  if (!ch || ch->hidden) return {Errc::invalid_argument, "no such data channel"};
  impl_->begin_close(*ch);
  return {};
}

const DataChannelInfo* DataChannelTransport::channel(uint16_t id) const {
  if (!impl_ || id >= impl_->channels.size()) return nullptr;
  const Channel* ch = impl_->channels[id].get();
  return ch && !ch->hidden ? &ch->info : nullptr;
}

bool DataChannelTransport::is_connected() const { return impl_ && impl_->connected; }

DataChannelStats DataChannelTransport::stats() const {
  if (!impl_) return {};
  DataChannelStats s = impl_->stats;
  s.sctp = impl_->sctp.stats();
  return s;
}

}  // namespace tandem::transport
