// storage_bench.cc - microbenchmarks of one shard (storage/shard.h): a batched commit of
// inbox appends (the ack path: sync and nosync, batch sizes 1..1024, appends spread over
// 1000 users like live traffic) and a history page read (conversation index + entries, which
// the tables keep in their compact stored form: storage/entry_codec.h).
// Each benchmark uses its own LMDB environment under $TMPDIR, removed at the end.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "protocol/im_generated.h"
#include "storage/shard.h"
#include "storage/write_batch.h"

namespace {

namespace fs = std::filesystem;
using im::storage::Shard;
using im::storage::WriteBatch;

constexpr uint64_t kUsers = 1000;

// The wire form of a 1:1 message with text_bytes of text, as the server stores it.
std::vector<uint8_t> message_entry(uint64_t owner, uint64_t seq, size_t text_bytes) {
  namespace p = im::proto;
  flatbuffers::FlatBufferBuilder b;
  auto text = p::CreateTextContent(b, b.CreateString(std::string(text_bytes, 'x')));
  auto msg = p::CreateMessage(b, (1764000000000ull << 16) | seq, owner, owner + 1, 0, 0, 1000 + seq,
                              1764000000000, p::Content::TextContent, text.Union());
  b.Finish(p::CreateInboxEntry(b, seq, owner, p::EntryBody::Message, msg.Union()));
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

struct TempShard {
  explicit TempShard(bool sync) {
    char tmpl[] = "/tmp/imbench-micro-XXXXXX";
    dir = mkdtemp(tmpl);
    im::storage::ShardOptions options;
    options.sync = sync;
    options.map_bytes = 1ull << 30;
    std::string error;
    shard = Shard::open(dir, 0, options, &error);
  }
  ~TempShard() {
    shard.reset();
    fs::remove_all(dir);
  }
  std::string dir;
  std::unique_ptr<Shard> shard;
};

void BM_CommitInboxAppends(benchmark::State& state) {
  bool sync = state.range(0) != 0;
  size_t batch_size = size_t(state.range(1));
  TempShard t(sync);
  if (!t.shard) return state.SkipWithError("cannot open shard");
  const std::vector<uint8_t> entry = message_entry(1, 1, 100);
  std::vector<uint64_t> next_seq(kUsers, 1);
  WriteBatch batch;
  uint64_t n = 0;
  for (auto _ : state) {
    batch.clear();
    for (size_t i = 0; i < batch_size; ++i, ++n) {
      uint64_t uid = 1 + (n * 7919) % kUsers;
      batch.put_inbox(uid, next_seq[uid - 1]++, entry);
    }
    if (t.shard->commit(batch) != im::storage::CommitStatus::Ok)
      return state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(int64_t(n));
  state.counters["commits_per_s"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CommitInboxAppends)
    ->ArgNames({"sync", "batch"})
    ->ArgsProduct({{0, 1}, {1, 64, 1024}})
    ->UseRealTime();

// One conversation of 10,000 entries (both directions), then random pages of 50, newest
// first, the way the server answers History.
void BM_HistoryPage(benchmark::State& state) {
  TempShard t(false);
  if (!t.shard) return state.SkipWithError("cannot open shard");
  constexpr uint64_t kUid = 1, kPeer = 2, kEntries = 10000;
  WriteBatch batch;
  for (uint64_t seq = 1; seq <= kEntries; ++seq) {
    batch.put_inbox(kUid, seq, message_entry(kUid, seq, 100));
    batch.put_conv_index(kUid, kPeer, seq, seq % 2 == 0);
  }
  t.shard->commit(batch);
  t.shard->checkpoint();  // pages come from the tables, as they do for older history
  t.shard->publish_committed();
  std::mt19937_64 rng(42);
  size_t page = size_t(state.range(0));
  std::vector<uint64_t> seqs;
  size_t bytes = 0;
  for (auto _ : state) {
    uint64_t before = page + 1 + rng() % (kEntries - page);
    auto index = t.shard->read_conv_index(kUid, kPeer, before, 0, page);
    seqs.clear();
    for (const auto& item : index) seqs.push_back(item.inbox_seq);
    t.shard->read_inbox_seqs(
        kUid, seqs, [&](const im::storage::InboxItem& item) { bytes += item.bytes.size(); });
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(state.iterations());  // pages
}
BENCHMARK(BM_HistoryPage)->Arg(50);

}  // namespace

BENCHMARK_MAIN();
