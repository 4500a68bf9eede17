// Chunk planning for parallel, resumable table snapshots: a table's heap is
// cut into ranges of whole pages, read with TID range scans
// (`ctid >= '(a,0)' AND ctid < '(b,0)'`, PostgreSQL 14+), so every row
// version visible to the snapshot falls in exactly one range.
//
// The plan depends only on the page count and the chunk size: chunk i is
// pages [i*chunk_pages, (i+1)*chunk_pages), and the last chunk is open-ended
// (no upper bound), so it also covers pages added after the page count was
// read. A resumed run re-plans with the chunk size saved in its state file
// and skips the ranges marked done (SnapshotState).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "pg/conn.h"

namespace pgcdc::snapshot {

// No upper bound.
inline constexpr uint64_t kOpenEnd = UINT64_MAX;
// Largest page number a tid can hold (BlockNumber is 32 bits).
inline constexpr uint64_t kMaxPage = 0xFFFFFFFEull;

struct PageRange {
  uint64_t begin = 0;
  uint64_t end = kOpenEnd;  // exclusive; kOpenEnd = to the end of the table
  bool operator==(const PageRange&) const = default;
};

// Chunks covering `pages` pages, `chunk_pages` (>= 1) at a time; the last
// one open-ended. Always at least one chunk (an empty table: [0, open)).
std::vector<PageRange> PlanChunks(uint64_t pages, uint64_t chunk_pages);

// The SQL condition selecting a range's rows ("" for [0, open): the whole
// table). Only numbers are interpolated.
std::string CtidCondition(const PageRange& range);

// "[a,b)" or "[a,end)" for logs and errors.
std::string Describe(const PageRange& range);

// How a table can be split. `splittable` is false for relations without a
// heap of their own (views, partitioned tables, foreign tables), and on
// servers before PostgreSQL 14 (no TID range scans: every chunk would scan
// the whole table): they are read in one piece.
struct TableLayout {
  bool splittable = false;
  uint64_t pages = 0;  // pg_relation_size / block_size when splittable
  uint32_t oid = 0;
};

// Reads the layout of `quoted_table` (a regclass-parsable, quoted name).
Result<TableLayout> ReadTableLayout(pg::Conn& conn, const std::string& quoted_table);

}  // namespace pgcdc::snapshot
