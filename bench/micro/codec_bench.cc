// codec_bench.cc - microbenchmarks of the wire codec on the message path: encoding a Send
// (client SDK builders), verifying frames (protocol/frame_verify.h) and decoding a Push
// page and a SendResult (client SDK decoders). Single thread.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "client/frame_builders.h"
#include "client/frame_decoders.h"
#include "protocol/frame_verify.h"

namespace {

namespace proto = im::proto;

std::vector<uint8_t> make_entry(uint64_t inbox_seq, size_t text_bytes) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto text = fbb.CreateString(std::string(text_bytes, 'x'));
  auto content = proto::CreateTextContent(fbb, text);
  auto msg = proto::CreateMessage(fbb, 1000 + inbox_seq, 7, 8, 0, 0, inbox_seq, 1700000000000,
                                  proto::Content::TextContent, content.Union());
  auto entry = proto::CreateInboxEntry(fbb, inbox_seq, 8, proto::EntryBody::Message, msg.Union());
  fbb.Finish(entry);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

// A Push frame of `entries` stored entries of 100-byte messages.
std::vector<uint8_t> make_push(size_t entries) {
  flatbuffers::FlatBufferBuilder fbb(entries * 256);
  std::vector<flatbuffers::Offset<proto::EntryBlob>> blobs;
  for (size_t i = 0; i < entries; ++i) {
    std::vector<uint8_t> bytes = make_entry(i + 1, 100);
    fbb.ForceVectorAlignment(bytes.size(), 1, 8);
    auto data = fbb.CreateVector(bytes);
    blobs.push_back(proto::CreateEntryBlob(fbb, data));
  }
  auto push = proto::CreatePush(fbb, fbb.CreateVector(blobs));
  return im::client::to_vector(im::client::finish_frame(fbb, 0, proto::Body::Push, push.Union()));
}

std::vector<uint8_t> make_send_result() {
  flatbuffers::FlatBufferBuilder fbb(128);
  auto data = proto::CreateSendResult(fbb, 42, 7, 1700000000000, false);
  auto result =
      proto::CreateResult(fbb, proto::Code::Ok, 0, proto::ResultData::SendResult, data.Union());
  return im::client::to_vector(
      im::client::finish_frame(fbb, 9, proto::Body::Result, result.Union()));
}

void BM_EncodeSend(benchmark::State& state) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  std::string text(size_t(state.range(0)), 'x');
  uint64_t id = 0;
  for (auto _ : state) {
    ++id;
    auto bytes = im::client::build_send_text(fbb, id, 77, id, text);
    benchmark::DoNotOptimize(bytes.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeSend)->Arg(100)->Arg(4096);

void BM_VerifySend(benchmark::State& state) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  auto frame =
      im::client::to_vector(im::client::build_send_text(fbb, 1, 77, 1, std::string(100, 'x')));
  for (auto _ : state) benchmark::DoNotOptimize(im::protocol::verify_frame(frame));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifySend);

void BM_VerifyPush(benchmark::State& state) {
  auto frame = make_push(size_t(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(im::protocol::verify_frame(frame));
  state.SetItemsProcessed(state.iterations() * state.range(0));  // entries
}
BENCHMARK(BM_VerifyPush)->Arg(1)->Arg(50);

void BM_DecodePush(benchmark::State& state) {
  auto frame = make_push(size_t(state.range(0)));
  const proto::Frame* f = im::protocol::verify_frame(frame);
  for (auto _ : state) {
    auto entries = im::client::decode_entry_blobs(f->body_as_Push()->entries());
    benchmark::DoNotOptimize(entries.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodePush)->Arg(1)->Arg(50);

void BM_DecodeSendResult(benchmark::State& state) {
  auto frame = make_send_result();
  const proto::Frame* f = im::protocol::verify_frame(frame);
  for (auto _ : state) benchmark::DoNotOptimize(im::client::decode_send_result(*f).value().msg_id);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeSendResult);

}  // namespace

BENCHMARK_MAIN();
