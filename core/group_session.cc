// group_session.cc - group frames from a logged-in connection: checked here for shape
// (ids present, content valid, named users exist), then routed to the group's shard,
// which authorises them by the caller's role. ListGroups gathers from every shard.
#include <algorithm>
#include <cstring>

#include "core/content_rules.h"
#include "core/worker.h"
#include "storage/data_dir.h"

namespace im::core {

namespace p = im::proto;

namespace {
constexpr size_t kMaxUidsPerRequest = 500;

void append_uids(Bytes& out, const flatbuffers::Vector<uint64_t>* uids) {
  if (!uids) return;
  size_t at = out.size();
  out.resize(at + uids->size() * 8);
  for (size_t i = 0; i < uids->size(); i++) {
    uint64_t uid = uids->Get(uint32_t(i));
    std::memcpy(out.data() + at + i * 8, &uid, 8);
  }
}
}  // namespace

void Worker::route_group_manage(uint32_t slot, uint64_t req_id, uint64_t gid, GroupAction action,
                                uint64_t target, bool flag) {
  if (gid == 0) return reply(slot, req_id, Code::BadRequest, "gid is required");
  auto e = session_envelope(Op::GroupManage, slot, req_id);
  e->shard = storage::shard_of_uid(gid, shared_->shard_count);
  e->a = gid;
  e->b = target;
  e->c = flag ? 1 : 0;
  e->code = static_cast<uint16_t>(action);
  route_to_shard(std::move(e));
}

void Worker::on_group_request(uint32_t slot, uint64_t req_id, const p::Frame& frame,
                              std::span<const uint8_t> bytes) {
  uint32_t shards = shared_->shard_count;
  switch (frame.body_type()) {
    case p::Body::CreateGroup: {
      const auto* m = frame.body_as_CreateGroup();
      size_t n = m->member_uids() ? m->member_uids()->size() : 0;
      if (!m->name() || m->name()->size() == 0 || m->name()->size() > 64) {
        return reply(slot, req_id, Code::BadRequest, "group name must be 1..64 bytes");
      }
      if (n > kMaxUidsPerRequest) return reply(slot, req_id, Code::BadRequest, "too many members");
      auto e = session_envelope(Op::CreateGroup, slot, req_id);  // the creator's shard
      e->text = m->name()->str();
      append_uids(e->bytes, m->member_uids());
      std::vector<uint64_t> uids;
      if (m->member_uids()) uids.assign(m->member_uids()->begin(), m->member_uids()->end());
      return check_users_then(slot, req_id, std::move(uids), std::move(e));
    }
    case p::Body::InviteMembers: {
      const auto* m = frame.body_as_InviteMembers();
      size_t n = m->uids() ? m->uids()->size() : 0;
      if (m->gid() == 0 || n == 0 || n > kMaxUidsPerRequest) {
        return reply(slot, req_id, Code::BadRequest, "gid and 1..500 uids are required");
      }
      auto e = session_envelope(Op::GroupManage, slot, req_id);
      e->shard = storage::shard_of_uid(m->gid(), shards);
      e->a = m->gid();
      e->code = static_cast<uint16_t>(GroupAction::Invite);
      append_uids(e->bytes, m->uids());
      std::vector<uint64_t> uids(m->uids()->begin(), m->uids()->end());
      return check_users_then(slot, req_id, std::move(uids), std::move(e));
    }
    case p::Body::RemoveMember: {
      const auto* m = frame.body_as_RemoveMember();
      return route_group_manage(slot, req_id, m->gid(), GroupAction::Remove, m->uid(), false);
    }
    case p::Body::QuitGroup:
      return route_group_manage(slot, req_id, frame.body_as_QuitGroup()->gid(), GroupAction::Quit,
                                0, false);
    case p::Body::DismissGroup:
      return route_group_manage(slot, req_id, frame.body_as_DismissGroup()->gid(),
                                GroupAction::Dismiss, 0, false);
    case p::Body::TransferOwnership: {
      const auto* m = frame.body_as_TransferOwnership();
      return route_group_manage(slot, req_id, m->gid(), GroupAction::Transfer, m->new_owner_uid(),
                                false);
    }
    case p::Body::SetAdmin: {
      const auto* m = frame.body_as_SetAdmin();
      return route_group_manage(slot, req_id, m->gid(), GroupAction::SetAdmin, m->uid(),
                                m->admin());
    }
    case p::Body::MuteMember: {
      const auto* m = frame.body_as_MuteMember();
      return route_group_manage(slot, req_id, m->gid(), GroupAction::MuteMember, m->uid(),
                                m->muted());
    }
    case p::Body::MuteGroup: {
      const auto* m = frame.body_as_MuteGroup();
      return route_group_manage(slot, req_id, m->gid(), GroupAction::MuteGroup, 0, m->muted());
    }
    case p::Body::UpdateGroup: {
      const auto* m = frame.body_as_UpdateGroup();
      if (m->gid() == 0) return reply(slot, req_id, Code::BadRequest, "gid is required");
      auto e = session_envelope(Op::GroupManage, slot, req_id);
      e->shard = storage::shard_of_uid(m->gid(), shards);
      e->a = m->gid();
      e->code = static_cast<uint16_t>(GroupAction::Update);
      if (m->name()) e->text = m->name()->str();
      if (m->announcement()) e->text2 = m->announcement()->str();
      e->c = m->clear_announcement() ? 1 : 0;
      return route_to_shard(std::move(e));
    }
    case p::Body::GroupSend: {
      const auto* m = frame.body_as_GroupSend();
      if (m->gid() == 0 || m->client_msg_id() == 0) {
        return reply(slot, req_id, Code::BadRequest, "gid and a non-zero client_msg_id required");
      }
      std::string_view bad = check_content(m->content_type(), m->content(), m->mentions(),
                                           shared_->config.max_text_bytes);
      if (!bad.empty()) return reply(slot, req_id, Code::BadRequest, bad);
      auto e = session_envelope(Op::GroupSend, slot, req_id);
      e->shard = storage::shard_of_uid(m->gid(), shards);
      e->bytes.assign(bytes.begin(), bytes.end());
      return route_to_shard(std::move(e));
    }
    case p::Body::GroupSync: {
      const auto* m = frame.body_as_GroupSync();
      auto e = session_envelope(Op::GroupSync, slot, req_id);
      e->shard = storage::shard_of_uid(m->gid(), shards);
      e->a = m->gid();
      e->b = m->after_group_seq();
      e->c = m->limit();
      return route_to_shard(std::move(e));
    }
    case p::Body::GroupHistory: {
      const auto* m = frame.body_as_GroupHistory();
      auto e = session_envelope(Op::GroupHistory, slot, req_id);
      e->shard = storage::shard_of_uid(m->gid(), shards);
      e->a = m->gid();
      e->b = m->before_group_seq();
      e->c = m->after_group_seq();
      e->d = m->limit();
      return route_to_shard(std::move(e));
    }
    case p::Body::GetGroup: {
      auto e = session_envelope(Op::GetGroup, slot, req_id);
      e->a = frame.body_as_GetGroup()->gid();
      e->shard = storage::shard_of_uid(e->a, shards);
      return route_to_shard(std::move(e));
    }
    case p::Body::ListMembers: {
      const auto* m = frame.body_as_ListMembers();
      auto e = session_envelope(Op::ListMembers, slot, req_id);
      e->shard = storage::shard_of_uid(m->gid(), shards);
      e->a = m->gid();
      e->b = m->after_uid();
      e->c = m->limit();
      return route_to_shard(std::move(e));
    }
    case p::Body::ListGroups:
      return start_gather(GatherKind::GroupList, slot, req_id, 0);
    default:
      return reply(slot, req_id, Code::UnknownType, "unknown frame type");
  }
}

}  // namespace im::core
