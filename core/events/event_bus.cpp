#include "core/events/event_bus.h"

#include "core/metrics/timer.h"

namespace tandem::events {
namespace {

constexpr uint64_t kWaiterBit = uint64_t{1} << 63;

uint64_t mix(EventKind kind, uint64_t key) {
  // The kind in the top byte keeps (kind, key) pairs distinct for every key below 2^56; above that, two
  // pairs may share a bucket, which costs a filter check, never a wrong delivery.
  return key ^ (uint64_t{static_cast<uint8_t>(kind)} << 56);
}

}  // namespace

bool is_known(EventKind kind) {
  switch (kind) {
    case EventKind::log_batch:
    case EventKind::metrics_report:
    case EventKind::synthetic:
    case EventKind::request_complete:
    case EventKind::media_packets:
    case EventKind::audio_frame:
    case EventKind::video_frame:
    case EventKind::peer_event:
    case EventKind::data_channel_state:
    case EventKind::data_channel_message:
    case EventKind::peer_datagrams: return true;
  }
  return false;
}

struct EventBus::Buffer {
  std::string bytes;
  uint32_t refs = 0;
};

struct EventBus::Subscriber {
  uint64_t id = 0;
  uint64_t deliver_as = 0;
  Filter filter;
  Overflow overflow = Overflow::drop_oldest;
  bool one_shot = false;  // a waiter: retired by complete(), removed once its event is delivered
  bool in_ready = false;
  Subscriber* next_ready = nullptr;
  std::vector<Buffer*> ring;  // fixed capacity, allocated at subscribe
  size_t head = 0, size = 0;
  SubscriberStats stats;
};

EventBus::EventBus(metrics::Registry& registry, platform::Clock& clock, Sink sink, Wakeup wakeup)
    : clock_(clock),
      sink_(std::move(sink)),
      wakeup_(std::move(wakeup)),
      send_event_(registry.histogram("send_event")),
      published_(registry.counter("event_bus_published")),
      unmatched_(registry.counter("event_bus_unmatched")),
      filtered_(registry.counter("event_bus_filtered")),
      delivered_(registry.counter("event_bus_delivered")),
      dropped_oldest_(registry.counter("event_bus_dropped", "policy=drop_oldest")),
      dropped_newest_(registry.counter("event_bus_dropped", "policy=drop_newest")),
      subscriptions_(registry.gauge("event_bus_subscriptions")) {}

EventBus::~EventBus() {
  std::lock_guard lock(mutex_);
  while (!subscribers_.empty()) remove_subscriber_locked(subscribers_.begin());
}

Result<void> EventBus::subscribe(uint64_t id, const Filter& filter, size_t capacity, Overflow overflow) {
  if (id == 0 || (id & kWaiterBit)) return Error{Errc::invalid_argument, "subscription id must be non-zero"};
  if (filter.kinds == 0) return Error{Errc::invalid_argument, "a filter must select at least one event kind"};
  for (unsigned k = 0; k < kMaxEventKinds; ++k) {
    if (!filter.selects(static_cast<EventKind>(k))) continue;
    if (!is_known(static_cast<EventKind>(k))) {
      return Error{Errc::invalid_argument, "unknown event kind " + std::to_string(k)};
    }
  }
  if (filter.selects(EventKind::request_complete)) {
    return Error{Errc::invalid_argument, "request_complete events go to the request's waiter only"};
  }
  if (capacity == 0 || capacity > (1u << 20)) {
    return Error{Errc::invalid_argument, "queue capacity must be 1..1048576"};
  }
  auto s = std::make_unique<Subscriber>();
  s->id = id;
  s->deliver_as = id;
  s->filter = filter;
  s->overflow = overflow;
  s->ring.resize(capacity);
  std::lock_guard lock(mutex_);
  if (subscribers_.count(id) != 0) return Error{Errc::invalid_argument, "subscription id already in use"};
  index_add(s.get());
  subscribers_.emplace(id, std::move(s));
  ++plain_subscribers_;
  subscriptions_.add(1);
  return {};
}

Result<void> EventBus::add_waiter(uint64_t async_id) {
  if (async_id == 0 || (async_id & kWaiterBit)) return Error{Errc::invalid_argument, "bad async id"};
  auto s = std::make_unique<Subscriber>();
  s->id = async_id | kWaiterBit;
  s->deliver_as = 0;
  s->one_shot = true;
  s->ring.resize(1);
  std::lock_guard lock(mutex_);
  if (subscribers_.count(s->id) != 0) return Error{Errc::invalid_argument, "async id already has a waiter"};
  // Not indexed: publish() can never reach a waiter; only complete() can.
  subscribers_.emplace(s->id, std::move(s));
  return {};
}

bool EventBus::remove_waiter(uint64_t async_id) {
  std::lock_guard lock(mutex_);
  auto it = subscribers_.find(async_id | kWaiterBit);
  if (it == subscribers_.end()) return false;
  remove_subscriber_locked(it);
  return true;
}

bool EventBus::unsubscribe(uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = subscribers_.find(id);
  if (it == subscribers_.end() || (id & kWaiterBit)) return false;
  remove_subscriber_locked(it);
  return true;
}

void EventBus::remove_subscriber_locked(std::unordered_map<uint64_t, std::unique_ptr<Subscriber>>::iterator it) {
  Subscriber* s = it->second.get();
  if (!s->one_shot) index_remove(s);
  for (size_t i = 0; i < s->size; ++i) release_buffer(s->ring[(s->head + i) % s->ring.size()]);
  if (s->in_ready) unlink_ready(s);
  if (!(s->id & kWaiterBit)) {
    --plain_subscribers_;
    subscriptions_.add(-1);
  }
  subscribers_.erase(it);
}

void EventBus::index_add(Subscriber* s) {
  for (unsigned k = 0; k < kMaxEventKinds; ++k) {
    if (!s->filter.selects(static_cast<EventKind>(k))) continue;
    if (s->filter.has_key) {
      keyed_[mix(static_cast<EventKind>(k), s->filter.key)].push_back(s);
    } else {
      unkeyed_[k].push_back(s);
    }
  }
}

void EventBus::index_remove(Subscriber* s) {
  for (unsigned k = 0; k < kMaxEventKinds; ++k) {
    if (!s->filter.selects(static_cast<EventKind>(k))) continue;
    if (s->filter.has_key) {
      auto it = keyed_.find(mix(static_cast<EventKind>(k), s->filter.key));
      if (it == keyed_.end()) continue;
      std::erase(it->second, s);
      if (it->second.empty()) keyed_.erase(it);
    } else {
      std::erase(unkeyed_[k], s);
    }
  }
}

size_t EventBus::publish(EventKind kind, uint64_t key, const Encode& encode) {
  metrics::ScopedTimer timer(clock_, send_event_);
  std::lock_guard lock(mutex_);
  return publish_locked(kind, key, encode);
}

bool EventBus::complete(uint64_t async_id, const Encode& encode) {
  std::lock_guard lock(mutex_);
  auto it = subscribers_.find(async_id | kWaiterBit);
  if (it == subscribers_.end() || it->second->stats.delivered != 0 || it->second->size != 0) return false;
  Buffer* b = acquire_buffer();
  encode(b->bytes);
  b->refs = 1;
  enqueue(it->second.get(), b);
  release_buffer(b);
  if (!draining_ && !wakeup_pending_) {
    wakeup_pending_ = true;
    if (wakeup_) wakeup_();
  }
  return true;
}

size_t EventBus::publish_locked(EventKind kind, uint64_t key, const Encode& encode) {
  published_.add();
  matches_.clear();  // keeps its capacity
  const unsigned k = static_cast<unsigned>(kind);
  if (k < kMaxEventKinds) {
    for (Subscriber* s : unkeyed_[k]) matches_.push_back(s);
    if (!keyed_.empty()) {
      auto it = keyed_.find(mix(kind, key));
      if (it != keyed_.end()) {
        for (Subscriber* s : it->second) {
          if (s->filter.key == key) matches_.push_back(s);
        }
      }
    }
  }
  filtered_.add(plain_subscribers_ - matches_.size());
  if (matches_.empty()) {
    unmatched_.add();
    return 0;
  }
  Buffer* b = acquire_buffer();
  encode(b->bytes);
  b->refs = 1;  // held by this function until every queue took its reference
  for (Subscriber* s : matches_) enqueue(s, b);
  release_buffer(b);
  const size_t n = matches_.size();
  if (ready_head_ != nullptr && !draining_ && !wakeup_pending_) {
    wakeup_pending_ = true;
    if (wakeup_) wakeup_();
  }
  return n;
}

void EventBus::enqueue(Subscriber* s, Buffer* b) {
  const size_t cap = s->ring.size();
  if (s->size == cap) {
    ++s->stats.dropped;
    if (s->overflow == Overflow::drop_newest) {
      dropped_newest_.add();
      return;
    }
    dropped_oldest_.add();
    release_buffer(s->ring[s->head]);
    s->head = (s->head + 1) % cap;
    --s->size;
  }
  s->ring[(s->head + s->size) % cap] = b;
  ++s->size;
  ++b->refs;
  if (!s->in_ready) push_ready(s);
}

void EventBus::push_ready(Subscriber* s) {
  s->in_ready = true;
  s->next_ready = nullptr;
  if (ready_tail_ != nullptr) {
    ready_tail_->next_ready = s;
  } else {
    ready_head_ = s;
  }
  ready_tail_ = s;
}

EventBus::Subscriber* EventBus::pop_ready() {
  Subscriber* s = ready_head_;
  if (s == nullptr) return nullptr;
  ready_head_ = s->next_ready;
  if (ready_head_ == nullptr) ready_tail_ = nullptr;
  s->in_ready = false;
  s->next_ready = nullptr;
  return s;
}

void EventBus::unlink_ready(Subscriber* s) {
  Subscriber* prev = nullptr;
  for (Subscriber* it = ready_head_; it != nullptr; prev = it, it = it->next_ready) {
    if (it != s) continue;
    (prev != nullptr ? prev->next_ready : ready_head_) = s->next_ready;
    if (ready_tail_ == s) ready_tail_ = prev;
    break;
  }
  s->in_ready = false;
  s->next_ready = nullptr;
}

EventBus::Buffer* EventBus::acquire_buffer() {
  if (free_buffers_.empty()) {
    buffers_.push_back(std::make_unique<Buffer>());
    free_buffers_.reserve(buffers_.capacity());
    return buffers_.back().get();
  }
  Buffer* b = free_buffers_.back();
  free_buffers_.pop_back();
  return b;
}

void EventBus::release_buffer(Buffer* b) {
  if (--b->refs == 0) free_buffers_.push_back(b);  // capacity reserved in acquire_buffer: no allocation
}

size_t EventBus::drain(size_t max) {
  std::unique_lock lock(mutex_);
  if (draining_) return 0;  // re-entered from the sink: the outer loop delivers
  draining_ = true;
  wakeup_pending_ = false;
  size_t delivered = 0;
  while (ready_head_ != nullptr && delivered < max) {
    Subscriber* s = pop_ready();
    Buffer* b = s->ring[s->head];
    s->head = (s->head + 1) % s->ring.size();
    --s->size;
    ++s->stats.delivered;
    const uint64_t deliver_as = s->deliver_as;
    if (s->size != 0) {
      push_ready(s);  // round-robin: one event per subscriber per turn
    } else if (s->one_shot) {
      remove_subscriber_locked(subscribers_.find(s->id));
    }
    // The buffer stays referenced (not returned to the pool) until the sink is done with it.
    lock.unlock();
    if (sink_) sink_(deliver_as, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b->bytes.data()),
                                                          b->bytes.size()));
    lock.lock();
    release_buffer(b);
    delivered_.add();
    ++delivered;
  }
  draining_ = false;
  if (ready_head_ != nullptr && !wakeup_pending_) {  // stopped at `max`: ask for another turn
    wakeup_pending_ = true;
    if (wakeup_) wakeup_();
  }
  return delivered;
}

size_t EventBus::subscriber_count() const {
  std::lock_guard lock(mutex_);
  return plain_subscribers_;
}

Result<SubscriberStats> EventBus::stats(uint64_t id) const {
  std::lock_guard lock(mutex_);
  auto it = subscribers_.find(id);
  if (it == subscribers_.end()) return Error{Errc::invalid_argument, "unknown subscription"};
  SubscriberStats st = it->second->stats;
  st.queued = it->second->size;
  return st;
}

}  // namespace tandem::events
