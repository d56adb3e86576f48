// commit_prepared.h - what a shard's end-of-turn commit preparation reports to its worker
// (ShardState::prepare_commit), which gathers the batches of one log record.
#pragma once

#include <cstdint>

namespace im::core {

// Began: the building batch has writes for the log (a piece). Held: the checkpointer is at
// its bound, the batch keeps building. Refused: the storage refused the batch, which has
// failed. None: nothing to write.
enum class CommitPrepared : uint8_t { None, Began, Held, Refused };

}  // namespace im::core
