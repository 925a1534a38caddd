// The filtered event bus (DESIGN principle 4).
//
// publish(kind, key, encode) first looks up the subscribers whose filter matches: an index by kind for
// unkeyed filters and by (kind, key) for keyed ones, so the cost grows with the matching subscribers only.
// If nothing matches, nothing is encoded, copied or allocated. Otherwise the event is encoded once into a
// pooled buffer shared (by reference count) by every matching subscriber's bounded queue.
//
// Delivery is deferred: publish() never calls the sink. drain() (run by the core's runtime after a wake-up)
// hands queued events to the sink one at a time, round-robin over subscribers. A sink that publishes, or calls
// drain() again, does not recurse: the nested drain returns at once and the outer loop delivers the new event
// after the current sink call returns.
//
// Waiters are one-shot subscribers for the completion of one asynchronous request (kind request_complete, key
// = the async id); the sink sees them with subscription 0 and the event's async_id says which request it
// answers. Ordinary subscriptions cannot select request_complete, so a completion reaches its waiter only.
//
// Thread safety: every method may be called from any thread (one mutex guards the index and the queues). The
// encode callback runs under that mutex and must not call back into the bus. The sink runs without it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/common/error.h"
#include "core/common/function_ref.h"
#include "core/metrics/registry.h"
#include "tandem/platform/platform.h"

namespace tandem::events {

// Values equal tandem.api.EventKind (and FfiEvent's oneof field numbers). All kinds are < 64 (a bit mask).
enum class EventKind : uint8_t {
  log_batch = 10,
  metrics_report = 11,
  synthetic = 12,
  request_complete = 13,
  media_packets = 14,
  audio_frame = 15,
  video_frame = 16,
  peer_event = 17,
  data_channel_state = 18,
  data_channel_message = 19,
  peer_datagrams = 20,
};
inline constexpr unsigned kMaxEventKinds = 64;
bool is_known(EventKind kind);

struct Filter {
  uint64_t kinds = 0;  // bit (1 << kind) per selected kind
  bool has_key = false;
  uint64_t key = 0;

  Filter& add(EventKind k) {
    kinds |= uint64_t{1} << static_cast<unsigned>(k);
    return *this;
  }
  bool selects(EventKind k) const { return (kinds >> static_cast<unsigned>(k)) & 1; }
};

enum class Overflow : uint8_t { drop_oldest = 0, drop_newest = 1 };

struct SubscriberStats {
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  size_t queued = 0;
};

class EventBus {
 public:
  // Receives each delivered event: the subscription id (0 for a waiter) and the encoded FfiEvent bytes, which
  // are valid only during the call.
  using Sink = std::function<void(uint64_t subscription, std::span<const uint8_t> event)>;
  // Called (once per batch) when events become pending while no drain is running: schedule a drain().
  using Wakeup = std::function<void()>;
  using Encode = FunctionRef<void(std::string& out)>;

  EventBus(metrics::Registry& registry, platform::Clock& clock, Sink sink, Wakeup wakeup);
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // `id` is chosen by the caller (the FFI uses the subscription handle) and must be non-zero and unused.
  Result<void> subscribe(uint64_t id, const Filter& filter, size_t capacity, Overflow overflow);
  // Queued, undelivered events of the subscriber are discarded. Returns false if `id` is unknown.
  bool unsubscribe(uint64_t id);
  // Registers the waiter of async request `async_id` (non-zero).
  Result<void> add_waiter(uint64_t async_id);
  // Retires a waiter whose request failed before it could complete. False if there is none.
  bool remove_waiter(uint64_t async_id);

  // Returns the number of subscribers the event was queued for (0: nothing was encoded).
  size_t publish(EventKind kind, uint64_t key, const Encode& encode);
  // Queues the completion of `async_id` for its waiter and retires the waiter. False if there is no waiter.
  bool complete(uint64_t async_id, const Encode& encode);

  // Delivers queued events until none are left (or `max` were delivered). Returns how many were delivered;
  // 0 when called re-entrantly from the sink.
  size_t drain(size_t max = SIZE_MAX);

  size_t subscriber_count() const;
  Result<SubscriberStats> stats(uint64_t id) const;

 private:
  struct Buffer;
  struct Subscriber;
  struct BufferRelease {
    EventBus* bus;
    void operator()(Buffer* b) const;
  };

  size_t publish_locked(EventKind kind, uint64_t key, const Encode& encode);
  void index_add(Subscriber* s);
  void index_remove(Subscriber* s);
  Buffer* acquire_buffer();
  void release_buffer(Buffer* b);
  void enqueue(Subscriber* s, Buffer* b);
  void push_ready(Subscriber* s);
  Subscriber* pop_ready();
  void unlink_ready(Subscriber* s);
  void remove_subscriber_locked(std::unordered_map<uint64_t, std::unique_ptr<Subscriber>>::iterator it);

  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, std::unique_ptr<Subscriber>> subscribers_;  // by id (waiters: high bit set)
  std::array<std::vector<Subscriber*>, kMaxEventKinds> unkeyed_;           // by kind
  std::unordered_map<uint64_t, std::vector<Subscriber*>> keyed_;           // by mix(kind, key)
  // Subscribers with queued events, in delivery order: an intrusive list (no allocation per event).
  Subscriber* ready_head_ = nullptr;
  Subscriber* ready_tail_ = nullptr;
  std::vector<std::unique_ptr<Buffer>> buffers_;                           // the pool: every buffer made
  std::vector<Buffer*> free_buffers_;
  std::vector<Subscriber*> matches_;  // scratch for publish, kept to avoid a per-event allocation
  bool draining_ = false;
  bool wakeup_pending_ = false;

  platform::Clock& clock_;
  Sink sink_;
  Wakeup wakeup_;
  metrics::Histogram& send_event_;
  metrics::Counter& published_;
  metrics::Counter& unmatched_;
  metrics::Counter& filtered_;
  metrics::Counter& delivered_;
  metrics::Counter& dropped_oldest_;
  metrics::Counter& dropped_newest_;
  metrics::Gauge& subscriptions_;
  size_t plain_subscribers_ = 0;  // not counting waiters
};

}  // namespace tandem::events
