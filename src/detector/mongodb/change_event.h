// A MongoDB change stream document → a pgcdc event (SPEC §1.5.8, issue 18;
// docs/mongodb.md). Pure: libbson only.
//
// CRUD events (insert → INSERT, update/replace → UPDATE, delete → DELETE) on
// channel pgcdc:<db>.<collection> with the payload (keys sorted, SPEC §1.2)
//   {"collection":…,"database":…,"document_key":{…},"old":…,"op":…,
//    "row":…[,"update_description":{"removed_fields":[…],"updated_fields":{…}}]}
// row = fullDocument (DELETE: fullDocumentBeforeChange when the server sent
// it, else null); old = fullDocumentBeforeChange for UPDATE (else null).
// Values are Extended JSON v2, relaxed form ({"$oid":…}, {"$date":…},
// {"$numberDecimal":…}, {"$binary":{…}}), documents in their field order.
// Any other operationType (drop, rename, dropDatabase, invalidate, …) is an
// event of that operation on pgcdc:_mongo with
//   {"collection":…,"database":…,"operation_type":…}.
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace pgcdc::detector::mongodb {

struct ChangeEvent {
  std::string channel;
  std::string operation;
  std::string payload;
  // documentKey._id as text (strings unquoted, ObjectIds as hex, anything
  // else its relaxed Extended JSON); empty without one.
  std::string key;
  std::string operation_type;  // the raw operationType
  int64_t created_at_ns = 0;   // wallTime, else clusterTime seconds; 0: unknown
  // Why the document is not a change event (empty: it is).
  std::string error;
};

ChangeEvent MapChangeEvent(const bson_t* change);

// A document read by a resnapshot (on_history_lost=resnapshot) as a
// SNAPSHOT event on pgcdc:<db>.<collection>:
//   {"collection":…,"database":…,"document_key":{"_id":…},"old":null,
//    "op":"SNAPSHOT","row":{…}}
ChangeEvent SnapshotEvent(const bson_t* doc, std::string_view db, std::string_view coll);

// A document as compact relaxed Extended JSON v2 ("null" when libbson
// cannot render it).
std::string RelaxedJson(const bson_t* doc);

// A stable 64-bit digest of a resume token document (the event id's
// position: the same event read again gets the same id).
uint64_t TokenDigest(const bson_t* token);

}  // namespace pgcdc::detector::mongodb
